"""Turning freshly stored events into outbox rows, inside the transaction that stored them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from notifier import outbox
from notifier.config import Settings
from notifier.messages import choose_locale
from notifier.models import OutboxState
from notifier.quiethours import recipient_timezone
from notifier.rules import CHANNEL_CONTACT, Recipient, decide
from notifier.sqlsets import one_of
from notifier.tracking import Transition
from notifier.vocabulary import ContactKind, ContactPoint, Event

CONTACTS = outbox.OUTBOX.metadata.tables["contact_points"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event just written, with what it did to its shipment."""

    event: Event
    row_id: int
    shipment_id: int
    shipment_locale: str | None
    transition: Transition


def enqueue_notifications(
    connection: Connection, stored: Sequence[StoredEvent], *, settings: Settings, now: datetime
) -> int:
    """Write the outbox rows the rules ask for; returns how many."""
    if not stored:
        return 0
    contacts = _contacts(connection, {s.shipment_id for s in stored})
    pairs = {
        (channel, c.value)
        for points in contacts.values()
        for c in points
        for channel, kind in CHANNEL_CONTACT.items()
        if c.kind is kind
    }
    opted = frozenset(outbox.opted_out(connection, pairs))
    rows: list[outbox.NewMessage] = []
    for item in stored:
        points = tuple(contacts.get(item.shipment_id, ()))
        phone = next(
            (c.value for c in reversed(points) if c.kind is ContactKind.PHONE and c.valid), None
        )
        recipient = Recipient(
            contacts=points,
            opted_out=opted,
            locale=choose_locale(item.event.recipient_locale or item.shipment_locale, settings),
            tz=recipient_timezone(phone, settings.company.timezone),
        )
        for intent in decide(
            item.event, transition=item.transition, recipient=recipient, settings=settings, now=now
        ):
            rows.append(
                outbox.NewMessage(
                    shipment_id=item.shipment_id,
                    status_event_id=item.row_id,
                    channel=intent.channel,
                    purpose=intent.purpose,
                    template=intent.template,
                    locale=intent.locale,
                    recipient=intent.recipient,
                    due_at=intent.due_at,
                    state=OutboxState.SUPPRESSED if intent.suppressed else OutboxState.PENDING,
                    last_error=intent.suppressed,
                )
            )
    outbox.enqueue_many(connection, rows, now)
    return len(rows)


def _contacts(connection: Connection, shipment_ids: set[int]) -> dict[int, list[ContactPoint]]:
    # Only the columns a decision reads: converting every row's timestamps cost more
    # than the query.
    query = (
        select(
            CONTACTS.c.shipment_id,
            CONTACTS.c.kind,
            CONTACTS.c.value,
            CONTACTS.c.valid,
            CONTACTS.c.invalid_reason,
        )
        .where(one_of(connection, CONTACTS.c.shipment_id, shipment_ids))
        .order_by(CONTACTS.c.id)
    )
    found: dict[int, list[ContactPoint]] = {}
    kinds = {kind.value: kind for kind in ContactKind}
    for shipment_id, kind, value, valid, invalid_reason in connection.execute(query):
        point = ContactPoint(kinds[kind], value, valid, invalid_reason)
        found.setdefault(shipment_id, []).append(point)
    return found
