"""What one dispatch tick reads: the claimed rows' shipments, events, contacts, opt-outs,
links and bookings, in one read transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, or_, select

from notifier.config import Settings
from notifier.db.bulk import Bulk, one_of
from notifier.db.contacts import stored_contacts
from notifier.db.engine import read_transaction
from notifier.db.tables import EVENTS, LINKS, OUTBOX, PROMISES, REBOOKINGS, SHIPMENTS
from notifier.outbox import store as outbox
from notifier.outbox.rows import ClaimedRow
from notifier.purposes import ABOUT_A_PROMISE, Purpose
from notifier.rebooking.choices import Booked
from notifier.rebooking.links import Link, live_links
from notifier.rebooking.promises import Promised, Window, apology_news
from notifier.rebooking.store import booked_from_row
from notifier.shipments import EventRecord, ShipmentRecord
from notifier.vocabulary import CHANNEL_CONTACT, CallbackOutcome, ContactPoint, PromiseKind


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
    # Per outbox row about a broken promise: what was promised.
    promises: Mapping[int, Promised] = field(default_factory=dict)
    # Per shipment: the rating link its DELIVERED message carries (dispatch fills it in).
    feedback_urls: Mapping[int, str] = field(default_factory=dict)


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
        promises = _promises(connection, [m for m in claimed if m.purpose in ABOUT_A_PROMISE], now)
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
            opted_out=outbox.opted_out(connection, pairs, link_key=settings.link_key),
            links=live_links(
                connection, shipment_ids, key=settings.link_key, settings=settings, now=now
            ),
            bookings=bookings,
            choices=choices,
            booked_attempts=booked_attempts,
            promises=promises,
        )


def _promises(
    connection: Connection, about: Sequence[ClaimedRow], now: datetime
) -> dict[int, Promised]:
    """What each row about a promise names: a promise comes from one booking (which
    promises one thing) or one event (its announced next attempt), as the row does; with
    how its apology stands, which the depot's alert reports."""
    if not about:
        return {}
    bookings = {m.rebooking_id for m in about if m.rebooking_id is not None}
    events = {m.status_event_id for m in about if m.status_event_id is not None}
    apologies = _apologies(connection, {m.shipment_id for m in about}, bookings, events)
    by_booking: dict[int, Promised] = {}
    by_event: dict[int, Promised] = {}
    for row in connection.execute(
        select(PROMISES).where(
            or_(
                one_of(connection, PROMISES.c.rebooking_id, bookings),
                one_of(connection, PROMISES.c.status_event_id, events),
            )
        )
    ):
        promised = Promised(
            PromiseKind(row.kind),
            Window(row.window_start, row.window_end),
            done_at=row.done_at,
            outcome=CallbackOutcome(row.outcome) if row.outcome else None,
            apology=apology_news(
                apologies.get((row.rebooking_id, row.status_event_id), ()), now=now
            ),
        )
        if row.rebooking_id is not None:
            by_booking[row.rebooking_id] = promised
        else:
            by_event[row.status_event_id] = promised
    found = {}
    for m in about:
        promised_for = (
            by_booking.get(m.rebooking_id)
            if m.rebooking_id is not None
            else by_event.get(m.status_event_id or -1)
        )
        if promised_for is not None:
            found[m.id] = promised_for
    return found


def _apologies(
    connection: Connection, shipment_ids: set[int], bookings: set[int], events: set[int]
) -> dict[tuple[int | None, int | None], list[tuple[str, str, datetime]]]:
    """The apology rows of these promises' sources: (channel, state, due_at) per source.
    By shipment first: the outbox's indexes lead with it."""
    found: dict[tuple[int | None, int | None], list[tuple[str, str, datetime]]] = {}
    for row in connection.execute(
        select(
            OUTBOX.c.rebooking_id,
            OUTBOX.c.status_event_id,
            OUTBOX.c.channel,
            OUTBOX.c.state,
            OUTBOX.c.due_at,
        ).where(
            one_of(connection, OUTBOX.c.shipment_id, shipment_ids),
            OUTBOX.c.purpose == Purpose.PROMISE_APOLOGY,
            or_(
                one_of(connection, OUTBOX.c.rebooking_id, bookings),
                one_of(connection, OUTBOX.c.status_event_id, events),
            ),
        )
    ):
        source = (row.rebooking_id, row.status_event_id)
        found.setdefault(source, []).append((row.channel, row.state, row.due_at))
    return found
