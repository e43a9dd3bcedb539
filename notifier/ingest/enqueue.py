"""Turning freshly stored events into outbox rows, inside the transaction that stored them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

from notifier.config import Settings
from notifier.db.bulk import Bulk
from notifier.db.contacts import stored_contacts
from notifier.locales import language_for
from notifier.notify.quiethours import recipient_timezone
from notifier.notify.rules import (
    Intent,
    Recipient,
    decide,
    effective_rule,
    first_usable,
    should_notify,
)
from notifier.outbox import store as outbox
from notifier.outbox.rows import NewOutboxRow
from notifier.purposes import Purpose
from notifier.rebooking.sms_menu import REPLY_OPTIONS_TEMPLATE, follows_missed_delivery
from notifier.tracking import Transition
from notifier.vocabulary import CHANNEL_CONTACT, Channel, ContactKind, Event, OutboxState


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event just written, with what it did to its shipment."""

    event: Event
    row_id: int
    shipment_id: int
    shipment_locale: str | None
    transition: Transition


def enqueue_notifications(
    connection: Connection,
    stored: Sequence[StoredEvent],
    *,
    settings: Settings,
    now: datetime,
) -> int:
    """Write the outbox rows the rules ask for; returns how many.

    Runs after the batch's contacts are stored, in the same transaction.
    """
    # Most events call for no message (an update in transit, a late event): only the
    # others need their recipients' opt-outs looked up.
    calling = [
        item
        for item in stored
        if effective_rule(settings, item.event.status, item.event.reason) is not None
        and should_notify(item.event, item.transition, settings=settings, now=now)
    ]
    if not calling:
        return 0
    contacts = stored_contacts(Bulk(connection), {item.shipment_id for item in calling})
    pairs = {
        (channel, c.value)
        for item in calling
        for c in contacts.get(item.shipment_id, ())
        for channel, kind in CHANNEL_CONTACT.items()
        if c.kind is kind
    }
    opted = frozenset(outbox.opted_out(connection, pairs, link_key=settings.link_key))
    rows: list[NewOutboxRow] = []
    for item in calling:
        points = tuple(contacts.get(item.shipment_id, ()))
        # Quiet hours follow the newest valid phone's clock, opted out or not.
        phone = first_usable(points, ContactKind.PHONE, Channel.SMS, ())
        recipient = Recipient(
            contacts=points,
            opted_out=opted,
            locale=language_for(
                item.event.recipient_locale or item.shipment_locale,
                settings.company.default_locale,
            ),
            tz=recipient_timezone(phone.value if phone else None, settings.company.timezone),
        )
        intents = decide(
            item.event, transition=item.transition, recipient=recipient, settings=settings, now=now
        )
        for intent in [*intents, *_reply_options(item.event, intents, settings=settings)]:
            rows.append(
                NewOutboxRow(
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


def _reply_options(event: Event, intents: Sequence[Intent], *, settings: Settings) -> list[Intent]:
    """The SMS numbering what a reply books, after a missed delivery's own SMS, due with it
    (claimed in id order, so sent after it), when its options stay open long enough."""
    return [
        replace(intent, purpose=Purpose.REPLY_OPTIONS, template=REPLY_OPTIONS_TEMPLATE)
        for intent in intents
        if intent.purpose == Purpose.MISSED_DELIVERY
        and intent.channel == Channel.SMS
        and intent.suppressed is None
        and follows_missed_delivery(
            settings,
            depot=event.depot,
            pickup_point=event.pickup_point,
            attempted_at=event.occurred_at,
            next_attempt=event.next_attempt_date,
            due_at=intent.due_at,
        )
    ]
