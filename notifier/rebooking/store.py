"""Booking a rebooking choice within capacity, exactly once, and queueing what it tells whom.

The rules themselves (what is offered, when a choice locks) are pure, in choices.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from notifier.config import Settings
from notifier.db.bulk import Bulk
from notifier.db.contacts import stored_contacts
from notifier.db.tables import CONTACTS, EVENTS, LINKS, REBOOKINGS, SHIPMENT_FACTS, SHIPMENTS, SLOTS
from notifier.locales import language_for
from notifier.notify.rules import first_usable
from notifier.outbox import store as outbox
from notifier.outbox.rows import NewOutboxRow
from notifier.purposes import Purpose
from notifier.rebooking.choices import (
    Booked,
    Choice,
    ChoiceInvalidError,
    ChoiceLockedError,
    ParcelDoneError,
    SlotFullError,
    SlotOffer,
    attempt_day,
    callback_due,
    check_choice,
    lock_moment,
    offered_days,
    slots_for,
)
from notifier.rebooking.links import Link, hash_token, link_from_row, live
from notifier.rebooking.promise_store import record_booking
from notifier.shipments import EventRecord, ShipmentRecord
from notifier.vocabulary import (
    CHANNEL_CONTACT,
    TERMINAL_STATUSES,
    Channel,
    ContactKind,
    ContactPoint,
    RebookOption,
    Status,
)

CONFIRMATION_TEMPLATE = "rebooking_confirmed"
DISPUTE_TEMPLATE = "dispute_forward"


def slot_offers(
    connection: Connection, *, settings: Settings, depot: str | None, now: datetime
) -> list[SlotOffer]:
    days = offered_days(settings, now)
    slots = slots_for(settings, depot)
    taken: dict[tuple[date, str], int] = {}
    if days:
        query = select(SLOTS.c.day, SLOTS.c.window, SLOTS.c.booked).where(
            SLOTS.c.depot == (depot or ""), SLOTS.c.day >= days[0], SLOTS.c.day <= days[-1]
        )
        taken = {(row.day, row.window): row.booked for row in connection.execute(query)}
    return [
        SlotOffer(day, slot.window, max(0, slot.capacity - taken.get((day, slot.window), 0)))
        for day in days
        for slot in slots
    ]


_CURRENT = (
    select(REBOOKINGS)
    .where(REBOOKINGS.c.shipment_id == bindparam("shipment_id"), REBOOKINGS.c.replaced_at.is_(None))
    .order_by(REBOOKINGS.c.id.desc())
    .limit(1)
)


def current_choice(connection: Connection, shipment_id: int) -> Booked | None:
    row = connection.execute(_CURRENT, {"shipment_id": shipment_id}).first()
    return None if row is None else booked_from_row(row._mapping)


def booked_from_row(row: Mapping[Any, Any]) -> Booked:
    """A stored rebookings row's mapping as the choice it records."""
    choice = Choice(
        kind=RebookOption(row["kind"]),
        day=row["day"],
        window=row["window"],
        pickup_point=row["pickup_point"],
        neighbour_name=row["neighbour_name"],
        neighbour_door=row["neighbour_door"],
        instructions=row["instructions"],
    )
    return Booked(
        id=row["id"],
        choice=choice,
        created_at=row["created_at"],
        due_at=row["due_at"],
        replaced_at=row["replaced_at"],
    )


@dataclass(frozen=True, slots=True)
class Parcel:
    """What a rebooking link opens: the link, its shipment and the recipient's current choice.

    `attempt` is the missed delivery the link stands for (the slip's), None for a link
    handed out before any attempt; the shipment's own status may have moved on since.
    """

    link: Link
    shipment: ShipmentRecord
    current: Booked | None
    attempt: EventRecord | None = None
    has_phone: bool = True  # a valid number to call back on


# The link, its shipment and the current choice in one statement, built once: a page
# view runs it on every request (building it cost as much as running it).
_PARCEL = (
    select(
        LINKS.c.id,
        LINKS.c.shipment_id,
        LINKS.c.status_event_id,
        LINKS.c.salt,
        LINKS.c.code_round,
        LINKS.c.expires_at,
        *SHIPMENT_FACTS,
        *[c.label(f"choice_{c.name}") for c in REBOOKINGS.c],
        EVENTS.c.status.label("link_event_status"),
        EVENTS.c.reason.label("link_event_reason"),
        EVENTS.c.occurred_at.label("link_event_occurred_at"),
        exists()
        .where(
            CONTACTS.c.shipment_id == LINKS.c.shipment_id,
            CONTACTS.c.kind == str(ContactKind.PHONE),
            CONTACTS.c.valid.is_(True),
        )
        .label("has_phone"),
    )
    .join(SHIPMENTS, SHIPMENTS.c.id == LINKS.c.shipment_id)
    .join(EVENTS, EVENTS.c.id == LINKS.c.status_event_id)
    # The current choice, if any: a shipment has at most one that is not replaced.
    .outerjoin(
        REBOOKINGS,
        and_(REBOOKINGS.c.shipment_id == LINKS.c.shipment_id, REBOOKINGS.c.replaced_at.is_(None)),
    )
    .where(live(bindparam("now")))
    .limit(1)
)
_PAGE = _PARCEL.where(LINKS.c.token_hash == bindparam("hash")).order_by(REBOOKINGS.c.id.desc())
# A shipment's newest live link, as an SMS reply from its recipient's number opens it.
_SHIPMENT_PARCEL = _PARCEL.where(LINKS.c.shipment_id == bindparam("shipment_id")).order_by(
    LINKS.c.id.desc(), REBOOKINGS.c.id.desc()
)
_CHOICE_COLUMNS = tuple((f"choice_{c.name}", c.name) for c in REBOOKINGS.c)


def open_parcel(
    connection: Connection, token: str, *, key: bytes, settings: Settings, now: datetime
) -> Parcel | None:
    """The parcel a token opens; None for unknown, tampered, expired and revoked alike."""
    if not token or len(token) > 64:
        return None
    row = connection.execute(_PAGE, {"hash": hash_token(token), "now": now}).first()
    return None if row is None else _parcel(row, key, settings)


def open_shipment_parcel(
    connection: Connection, shipment_id: int, *, key: bytes, settings: Settings, now: datetime
) -> Parcel | None:
    """The parcel this shipment's newest live link opens, as its page would; None without one.

    For a caller that has already tied the shipment to its recipient (an SMS reply from a
    number the shipment lists): the shipment id is never taken from a request.
    """
    params = {"shipment_id": shipment_id, "now": now}
    row = connection.execute(_SHIPMENT_PARCEL, params).first()
    return None if row is None else _parcel(row, key, settings)


def _parcel(row: Any, key: bytes, settings: Settings) -> Parcel:
    """A row of _PARCEL as the parcel it opens."""
    values = row._mapping
    choice = {name: values[label] for label, name in _CHOICE_COLUMNS}
    attempt = EventRecord.from_mapping(
        {
            "id": values["status_event_id"],
            "status": values["link_event_status"],
            "reason": values["link_event_reason"],
            "occurred_at": values["link_event_occurred_at"],
        }
    )
    return Parcel(
        link=link_from_row(row, key, settings),
        shipment=ShipmentRecord.from_mapping(values, id_key="shipment_id"),
        current=booked_from_row(choice) if choice["id"] is not None else None,
        attempt=attempt if attempt.status is Status.DELIVERY_ATTEMPTED else None,
        has_phone=bool(values["has_phone"]),
    )


def book(
    connection: Connection,
    *,
    link: Link,
    shipment: ShipmentRecord,
    choice: Choice,
    submission: str,
    settings: Settings,
    now: datetime,
) -> Booked:
    """Store the choice (replacing the current one), record what it promises and queue its
    confirmation.

    The same submission again returns the first booking. Raises SlotFullError,
    ChoiceLockedError, ParcelDoneError or ChoiceInvalidError; the caller's transaction is
    then rolled back.
    """
    _lock_link(connection, link.id)
    again = connection.execute(
        select(REBOOKINGS).where(
            REBOOKINGS.c.link_id == link.id, REBOOKINGS.c.submission == submission
        )
    ).first()
    if again is not None:
        return booked_from_row(again._mapping)
    if shipment.status in TERMINAL_STATUSES:
        raise ParcelDoneError()
    current = current_choice(connection, link.shipment_id)
    closed = lock_moment(
        current,
        next_attempt=attempt_day(
            shipment.status, shipment.next_attempt_date, shipment.estimated_delivery
        ),
        settings=settings,
        now=now,
    )
    if closed is not None:
        raise ChoiceLockedError(closed)
    depot = shipment.depot
    offers = (
        slot_offers(connection, settings=settings, depot=depot, now=now)
        if choice.kind == RebookOption.SLOT
        else []
    )
    check_choice(choice, settings=settings, depot=depot, offers=offers, now=now)
    contacts = stored_contacts(Bulk(connection), [shipment.id]).get(shipment.id, [])
    if choice.kind == RebookOption.CALLBACK and not any(
        c.kind is ContactKind.PHONE and c.valid for c in contacts
    ):
        raise ChoiceInvalidError("callback", "no phone number to call back on")
    slot_id = _take_slot(connection, choice, settings=settings, depot=depot)
    if current is not None:
        _release(connection, current.id, now)
    due_at = callback_due(choice, settings)
    values = {
        "shipment_id": link.shipment_id,
        "link_id": link.id,
        "submission": submission,
        "kind": str(choice.kind),
        "slot_id": slot_id,
        "day": choice.day,
        "window": choice.window,
        "pickup_point": choice.pickup_point,
        "neighbour_name": choice.neighbour_name,
        "neighbour_door": choice.neighbour_door,
        "instructions": choice.instructions,
        "due_at": due_at,
        "locale": str(language_for(shipment.recipient_locale, settings.company.default_locale)),
        "created_at": now,
        "replaced_at": None,
    }
    new_id = connection.execute(insert(REBOOKINGS).returning(REBOOKINGS.c.id), values).scalar_one()
    record_booking(
        connection,
        shipment=shipment,
        booking_id=new_id,
        replaced_id=current.id if current is not None else None,
        choice=choice,
        settings=settings,
        now=now,
    )
    _confirm(
        connection,
        shipment=shipment,
        contacts=contacts,
        booking_id=new_id,
        now=now,
        settings=settings,
    )
    if choice.kind == RebookOption.DISPUTE:
        _forward_dispute(
            connection, shipment=shipment, booking_id=new_id, settings=settings, now=now
        )
    return Booked(id=new_id, choice=choice, created_at=now, due_at=due_at)


def _lock_link(connection: Connection, link_id: int) -> None:
    # PostgreSQL: one booking transaction per link at a time, so two submissions cannot
    # both see "no current choice". SQLite's BEGIN IMMEDIATE already lets one writer in.
    query = select(LINKS.c.id).where(LINKS.c.id == link_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    connection.execute(query)


def _take_slot(
    connection: Connection, choice: Choice, *, settings: Settings, depot: str | None
) -> int | None:
    if choice.kind != RebookOption.SLOT or choice.day is None or choice.window is None:
        return None
    capacity = next(s.capacity for s in slots_for(settings, depot) if s.window == choice.window)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        dialect.insert(SLOTS)
        .values(depot=depot or "", day=choice.day, window=choice.window, capacity=capacity)
        .on_conflict_do_nothing(index_elements=["depot", "day", "window"])
    )
    where = [
        SLOTS.c.depot == (depot or ""),
        SLOTS.c.day == choice.day,
        SLOTS.c.window == choice.window,
    ]
    taken = connection.execute(
        update(SLOTS)
        .where(*where, SLOTS.c.booked < SLOTS.c.capacity)
        .values(booked=SLOTS.c.booked + 1)
        .returning(SLOTS.c.id)
    ).first()
    if taken is None:
        raise SlotFullError()
    return int(taken.id)


def _release(connection: Connection, booking_id: int, now: datetime) -> None:
    row = connection.execute(
        update(REBOOKINGS)
        .where(REBOOKINGS.c.id == booking_id)
        .values(replaced_at=now)
        .returning(REBOOKINGS.c.slot_id)
    ).first()
    if row is not None and row.slot_id is not None:
        connection.execute(
            update(SLOTS).where(SLOTS.c.id == row.slot_id).values(booked=SLOTS.c.booked - 1)
        )


def _confirm(
    connection: Connection,
    *,
    shipment: ShipmentRecord,
    contacts: Sequence[ContactPoint],
    booking_id: int,
    settings: Settings,
    now: datetime,
) -> None:
    """One confirmation, by SMS when the recipient has a valid phone, else by email."""
    for channel in (Channel.SMS, Channel.EMAIL):
        contact = first_usable(contacts, CHANNEL_CONTACT[channel], channel, frozenset())
        if contact is not None:
            message = NewOutboxRow(
                shipment_id=shipment.id,
                status_event_id=None,
                rebooking_id=booking_id,
                channel=channel,
                purpose=Purpose.REBOOKING_CONFIRMED,
                template=CONFIRMATION_TEMPLATE,
                locale=language_for(shipment.recipient_locale, settings.company.default_locale),
                recipient=contact.value,
                due_at=now,
            )
            outbox.enqueue(connection, message, now)
            return


def _forward_dispute(
    connection: Connection,
    *,
    shipment: ShipmentRecord,
    booking_id: int,
    settings: Settings,
    now: datetime,
) -> None:
    """ "I was at home" goes to the depot's address (else customer service), in ops' language."""
    depot = next((d for d in settings.depots if d.code == shipment.depot), None)
    address = (depot.email if depot else None) or settings.company.email
    message = NewOutboxRow(
        shipment_id=shipment.id,
        status_event_id=None,
        rebooking_id=booking_id,
        channel=Channel.EMAIL,
        purpose=Purpose.DISPUTE_FORWARD,
        template=DISPUTE_TEMPLATE,
        locale=language_for(None, settings.company.default_locale),
        recipient=address,
        due_at=now,
    )
    outbox.enqueue(connection, message, now)
