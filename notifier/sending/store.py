"""What one dispatch tick reads: the claimed rows' shipments, events, contacts, opt-outs,
links and bookings, in one read transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from notifier.config import Settings
from notifier.db.bulk import Bulk, one_of
from notifier.db.contacts import stored_contacts
from notifier.db.engine import read_transaction
from notifier.db.tables import EVENTS, LINKS, REBOOKINGS, SHIPMENTS
from notifier.outbox import store as outbox
from notifier.outbox.rows import ClaimedRow
from notifier.rebooking.choices import Booked
from notifier.rebooking.links import Link, live_links
from notifier.rebooking.store import booked_from_row
from notifier.shipments import EventRecord, ShipmentRecord
from notifier.vocabulary import CHANNEL_CONTACT, ContactPoint


@dataclass(frozen=True, slots=True)
class TickReads:
    """What the rows of one tick need from the database, read once."""

    shipments: Mapping[int, ShipmentRecord]
    events: Mapping[int, EventRecord]
    contacts: Mapping[int, Sequence[ContactPoint]]  # per shipment, oldest first
    opted_out: set[tuple[str, str]]  # of the rows' addresses and their shipments' contacts
    links: Mapping[int, Link]  # per shipment: its newest live link
    bookings: Mapping[int, Booked]  # the rows' own bookings, by id
    choices: Mapping[int, Booked]  # per shipment: the recipient's current choice
    # Per booking: the missed delivery its link stood for, what a dispute is about.
    booked_attempts: Mapping[int, EventRecord]


def read_tick(
    engine: Engine, claimed: Sequence[ClaimedRow], *, settings: Settings, now: datetime
) -> TickReads:
    shipment_ids = {m.shipment_id for m in claimed}
    event_ids = {m.status_event_id for m in claimed if m.status_event_id is not None}
    booking_ids = {m.rebooking_id for m in claimed if m.rebooking_id is not None}
    with read_transaction(engine) as connection:
        shipments = {
            row["id"]: ShipmentRecord.from_mapping(row)
            for row in connection.execute(
                select(SHIPMENTS).where(one_of(connection, SHIPMENTS.c.id, shipment_ids))
            ).mappings()
        }
        events = {
            row["id"]: EventRecord.from_mapping(row)
            for row in connection.execute(
                select(EVENTS.c.id, EVENTS.c.status, EVENTS.c.reason, EVENTS.c.occurred_at).where(
                    one_of(connection, EVENTS.c.id, event_ids)
                )
            ).mappings()
        }
        bookings = {
            row["id"]: booked_from_row(row)
            for row in connection.execute(
                select(REBOOKINGS).where(one_of(connection, REBOOKINGS.c.id, booking_ids))
            ).mappings()
        }
        booked_attempts = {
            row["booking_id"]: EventRecord.from_mapping(row)
            for row in connection.execute(
                select(
                    REBOOKINGS.c.id.label("booking_id"),
                    EVENTS.c.id,
                    EVENTS.c.status,
                    EVENTS.c.reason,
                    EVENTS.c.occurred_at,
                )
                .join(LINKS, LINKS.c.id == REBOOKINGS.c.link_id)
                .join(EVENTS, EVENTS.c.id == LINKS.c.status_event_id)
                .where(one_of(connection, REBOOKINGS.c.id, booking_ids))
            ).mappings()
        }
        choices = {
            row["shipment_id"]: booked_from_row(row)
            for row in connection.execute(
                select(REBOOKINGS)
                .where(
                    one_of(connection, REBOOKINGS.c.shipment_id, shipment_ids),
                    REBOOKINGS.c.replaced_at.is_(None),
                )
                .order_by(REBOOKINGS.c.id)
            ).mappings()
        }
        contacts = stored_contacts(Bulk(connection), shipment_ids)
        # A fallback turns to the shipment's other contacts: their opt-outs count too, or
        # a refused SMS would queue an email to an address that unsubscribed.
        pairs = {(m.channel, m.recipient) for m in claimed} | {
            (str(channel), point.value)
            for points in contacts.values()
            for point in points
            for channel, kind in CHANNEL_CONTACT.items()
            if point.kind is kind
        }
        return TickReads(
            shipments=shipments,
            events=events,
            contacts=contacts,
            opted_out=outbox.opted_out(connection, pairs),
            links=live_links(
                connection, shipment_ids, key=settings.link_key, settings=settings, now=now
            ),
            bookings=bookings,
            choices=choices,
            booked_attempts=booked_attempts,
        )
