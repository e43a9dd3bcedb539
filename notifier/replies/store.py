"""The SQL of answering SMS replies: each inbound message kept once by its MessageSid, the
per-number counts, and what the sender's number ties them to.

A sender is tied to a parcel only by the exact number Twilio reports (E.164, as contacts
are stored), listed as a valid phone of that shipment: never by anything the message says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Select, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from notifier.db.tables import CONTACTS, EVENTS, INBOUND, LINKS, OUTBOX, SHIPMENTS
from notifier.purposes import Purpose
from notifier.rebooking.links import live
from notifier.replies.limits import REPLY_LIMITS
from notifier.vocabulary import Channel, ContactKind

RECEIVED = "received"  # a row's kind until its answer is decided, in the same transaction
LIMITED = "limited"  # not answered: the number had its share; never counted as an answer


@dataclass(frozen=True, slots=True)
class OfferedOptions:
    """The options SMS a number was last sent: its parcel and the missed delivery it follows."""

    shipment_id: int
    status_event_id: int
    attempted_at: datetime


def record_inbound(
    connection: Connection, *, provider_id: str, sender: str, now: datetime
) -> int | None:
    """Keep the message by its MessageSid; None when it was kept before (Twilio's retry)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(INBOUND)
        .values(
            provider_id=provider_id,
            channel=str(Channel.SMS),
            sender=sender,
            kind=RECEIVED,
            shipment_id=None,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["provider_id"])
        .returning(INBOUND.c.id)
    )
    row = connection.execute(statement).first()
    return None if row is None else int(row.id)


def finish_inbound(
    connection: Connection, row_id: int, *, kind: str, shipment_id: int | None
) -> None:
    """What the message turned out to be, and the parcel it was answered about."""
    connection.execute(
        update(INBOUND).where(INBOUND.c.id == row_id).values(kind=kind, shipment_id=shipment_id)
    )


def handled_since(
    connection: Connection, sender: str, *, row_id: int, now: datetime
) -> dict[timedelta, int]:
    """How many of this number's other messages were handled (not limited) in each limit's
    window."""
    longest = max(window for window, _ in REPLY_LIMITS)
    counts = [
        func.coalesce(func.sum(case((INBOUND.c.received_at > now - window, 1), else_=0)), 0)
        for window, _ in REPLY_LIMITS
    ]
    # The (sender, received_at) index serves this whatever the table's size.
    row = connection.execute(
        select(*counts).where(
            INBOUND.c.sender == sender,
            INBOUND.c.received_at > now - longest,
            INBOUND.c.kind != LIMITED,
            INBOUND.c.id != row_id,
        )
    ).one()
    return {window: int(count) for (window, _), count in zip(REPLY_LIMITS, row, strict=True)}


def _listing(phone: str) -> Select[tuple[int]]:
    """The shipments that list this number as a valid phone of their recipient.

    contact_points has no index on the number (migration 0009 added none): this reads the
    table once per reply, and the rest goes by shipment id, which every table indexes.
    """
    return select(CONTACTS.c.shipment_id).where(
        CONTACTS.c.kind == str(ContactKind.PHONE),
        CONTACTS.c.value == phone,
        CONTACTS.c.valid.is_(True),
    )


def latest_live_shipment(connection: Connection, phone: str, *, now: datetime) -> int | None:
    """The newest shipment (by its latest status) listing this number, with a live link."""
    query = (
        select(LINKS.c.shipment_id)
        .join(SHIPMENTS, SHIPMENTS.c.id == LINKS.c.shipment_id)
        .where(live(now), LINKS.c.shipment_id.in_(_listing(phone)))
        .order_by(SHIPMENTS.c.status_occurred_at.desc(), LINKS.c.id.desc())
        .limit(1)
    )
    found = connection.execute(query).scalar()
    return None if found is None else int(found)


def sender_locale(connection: Connection, phone: str) -> str | None:
    """The language of the newest shipment listing this number, live or not."""
    query = (
        select(SHIPMENTS.c.recipient_locale)
        .where(SHIPMENTS.c.id.in_(_listing(phone)))
        .order_by(SHIPMENTS.c.status_occurred_at.desc())
        .limit(1)
    )
    found: str | None = connection.execute(query).scalar()
    return found


def offered_options(connection: Connection, phone: str) -> OfferedOptions | None:
    """The options SMS last sent to this number, for a shipment that still lists it."""
    query = (
        select(OUTBOX.c.shipment_id, OUTBOX.c.status_event_id, EVENTS.c.occurred_at)
        .join(EVENTS, EVENTS.c.id == OUTBOX.c.status_event_id)
        .where(
            OUTBOX.c.channel == str(Channel.SMS),
            OUTBOX.c.purpose == str(Purpose.REPLY_OPTIONS),
            OUTBOX.c.recipient == phone,
            OUTBOX.c.sent_at.is_not(None),
            OUTBOX.c.shipment_id.in_(_listing(phone)),
        )
        .order_by(OUTBOX.c.sent_at.desc(), OUTBOX.c.id.desc())
        .limit(1)
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return OfferedOptions(row.shipment_id, row.status_event_id, row.occurred_at)
