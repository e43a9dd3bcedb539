"""Rebooking choices: what a link may choose, and booking it within capacity, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from notifier import outbox
from notifier.config import ALL_REBOOK_OPTIONS, RebookOption, Settings, Slot
from notifier.errors import NotifierError
from notifier.ingest import CONTACTS
from notifier.links import LINKS, Link
from notifier.messages import choose_locale
from notifier.models import DeliverySlot, Rebooking
from notifier.vocabulary import ContactKind

SLOTS: Table = DeliverySlot.__table__  # type: ignore[attr-defined]
REBOOKINGS: Table = Rebooking.__table__  # type: ignore[attr-defined]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CONFIRMATION_TEMPLATE = "rebooking_confirmed"
DISPUTE_TEMPLATE = "dispute_forward"


class SlotFullError(NotifierError):
    """This slot is full: choose another."""


class ChoiceLockedError(NotifierError):
    """The choice can no longer be changed."""


class ChoiceInvalidError(NotifierError, ValueError):
    """A chosen value is not on offer."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class Choice:
    """What the recipient asked for; the fields its kind uses are set."""

    kind: RebookOption
    day: date | None = None
    window: str | None = None
    pickup_point: str | None = None
    neighbour_name: str | None = None
    neighbour_door: str | None = None
    instructions: str | None = None


@dataclass(frozen=True, slots=True)
class Booked:
    """A stored choice, as the confirmation page shows it."""

    id: int
    choice: Choice
    created_at: datetime
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class SlotOffer:
    day: date
    window: str
    left: int


def options_for(settings: Settings, depot: str | None) -> list[RebookOption]:
    place = next((d for d in settings.depots if d.code == depot), None)
    chosen = place.rebooking_options if place and place.rebooking_options is not None else None
    enabled = chosen if chosen is not None else settings.rebooking.options
    if not settings.pickup_points and not settings.depots:
        enabled = [o for o in enabled if o != "pickup"]
    return [o for o in ALL_REBOOK_OPTIONS if o in enabled]


def slots_for(settings: Settings, depot: str | None) -> list[Slot]:
    place = next((d for d in settings.depots if d.code == depot), None)
    return list(place.slots) if place and place.slots is not None else settings.rebooking.slots


def offered_days(settings: Settings, now: datetime) -> list[date]:
    """The next working days whose change-until moment (the evening before) is still ahead."""
    tz = ZoneInfo(settings.company.timezone)
    day = now.astimezone(tz).date()
    found: list[date] = []
    while len(found) < settings.rebooking.days_ahead:
        day += timedelta(days=1)
        if _WEEKDAYS[day.weekday()] in settings.rebooking.working_days and (
            _change_until(day, settings) > now
        ):
            found.append(day)
    return found


def _change_until(day: date, settings: Settings) -> datetime:
    tz = ZoneInfo(settings.company.timezone)
    return datetime.combine(day - timedelta(days=1), settings.rebooking.change_until, tzinfo=tz)


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
    return None if row is None else booked_from_row(row)


def booked_from_row(row: Any) -> Booked:
    """A stored rebookings row as the choice it records."""
    choice = Choice(
        kind=row.kind,
        day=row.day,
        window=row.window,
        pickup_point=row.pickup_point,
        neighbour_name=row.neighbour_name,
        neighbour_door=row.neighbour_door,
        instructions=row.instructions,
    )
    return Booked(id=row.id, choice=choice, created_at=row.created_at, due_at=row.due_at)


def locked_since(
    booked: Booked, *, next_attempt: date | None, settings: Settings
) -> datetime | None:
    """When this choice stopped being changeable: the evening before the day it acts on."""
    day = booked.choice.day or next_attempt
    return None if day is None else _change_until(day, settings)


def book(
    connection: Connection,
    *,
    link: Link,
    shipment: Any,
    choice: Choice,
    submission: str,
    settings: Settings,
    now: datetime,
) -> Booked:
    """Store the choice (replacing the current one) and queue its confirmation.

    The same submission again returns the first booking. Raises SlotFullError,
    ChoiceLockedError or ChoiceInvalidError; the caller's transaction is then rolled back.
    """
    _lock_link(connection, link.id)
    again = connection.execute(
        select(REBOOKINGS).where(
            REBOOKINGS.c.link_id == link.id, REBOOKINGS.c.submission == submission
        )
    ).first()
    if again is not None:
        return booked_from_row(again)
    current = current_choice(connection, link.shipment_id)
    if current is not None:
        until = locked_since(current, next_attempt=shipment.next_attempt_date, settings=settings)
        if until is not None and now >= until:
            raise ChoiceLockedError()
    depot = shipment.depot
    _check(connection, choice, settings=settings, depot=depot, now=now)
    slot_id = _take_slot(connection, choice, settings=settings, depot=depot)
    if current is not None:
        _release(connection, current.id, now)
    due_at = _callback_due(choice, settings) if choice.kind == "callback" else None
    values = {
        "shipment_id": link.shipment_id,
        "link_id": link.id,
        "submission": submission,
        "kind": choice.kind,
        "slot_id": slot_id,
        "day": choice.day,
        "window": choice.window,
        "pickup_point": choice.pickup_point,
        "neighbour_name": choice.neighbour_name,
        "neighbour_door": choice.neighbour_door,
        "instructions": choice.instructions,
        "due_at": due_at,
        "locale": shipment.recipient_locale or settings.company.default_locale,
        "created_at": now,
        "replaced_at": None,
    }
    new_id = connection.execute(insert(REBOOKINGS).returning(REBOOKINGS.c.id), values).scalar_one()
    _confirm(connection, shipment=shipment, booking_id=new_id, settings=settings, now=now)
    if choice.kind == "dispute":
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


def _check(
    connection: Connection, choice: Choice, *, settings: Settings, depot: str | None, now: datetime
) -> None:
    if choice.kind not in options_for(settings, depot):
        raise ChoiceInvalidError("option", "not offered for this parcel")
    if choice.kind == "slot":
        offers = slot_offers(connection, settings=settings, depot=depot, now=now)
        if (choice.day, choice.window) not in {(o.day, o.window) for o in offers}:
            raise ChoiceInvalidError("slot", "not one of the days and times on offer")
    elif choice.kind == "callback":
        if choice.day not in offered_days(settings, now) or (
            choice.window not in settings.rebooking.callback_windows
        ):
            raise ChoiceInvalidError("callback", "not one of the days and times on offer")
    elif choice.kind == "pickup":
        codes = {p.code for p in settings.pickup_points} | {d.code for d in settings.depots}
        if choice.pickup_point not in codes:
            raise ChoiceInvalidError("pickup_point", "not one of the places on offer")


def _take_slot(
    connection: Connection, choice: Choice, *, settings: Settings, depot: str | None
) -> int | None:
    if choice.kind != "slot" or choice.day is None or choice.window is None:
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


def _callback_due(choice: Choice, settings: Settings) -> datetime | None:
    if choice.day is None or choice.window is None:
        return None
    start = time.fromisoformat(choice.window.split("-")[0])
    return datetime.combine(choice.day, start, tzinfo=ZoneInfo(settings.company.timezone))


def _confirm(
    connection: Connection, *, shipment: Any, booking_id: int, settings: Settings, now: datetime
) -> None:
    """One confirmation, by SMS when the recipient has a valid phone, else by email."""
    query = (
        select(CONTACTS.c.kind, CONTACTS.c.value)
        .where(CONTACTS.c.shipment_id == shipment.id, CONTACTS.c.valid.is_(True))
        .order_by(CONTACTS.c.id.desc())
    )
    found = {kind: value for kind, value in reversed(connection.execute(query).all())}
    for channel, kind in (("sms", ContactKind.PHONE), ("email", ContactKind.EMAIL)):
        if kind in found:
            message = outbox.NewMessage(
                shipment_id=shipment.id,
                status_event_id=None,
                channel=channel,
                purpose=f"rebooked:{booking_id}",
                template=CONFIRMATION_TEMPLATE,
                locale=shipment.recipient_locale or settings.company.default_locale,
                recipient=found[kind],
                due_at=now,
            )
            outbox.enqueue(connection, message, now)
            return


def _forward_dispute(
    connection: Connection, *, shipment: Any, booking_id: int, settings: Settings, now: datetime
) -> None:
    """ "I was at home" goes to the depot's address (else customer service), in ops' language."""
    depot = next((d for d in settings.depots if d.code == shipment.depot), None)
    address = (depot.email if depot else None) or settings.company.email
    message = outbox.NewMessage(
        shipment_id=shipment.id,
        status_event_id=None,
        channel="email",
        purpose=f"dispute:{booking_id}",
        template=DISPUTE_TEMPLATE,
        locale=choose_locale(None, settings),
        recipient=address,
        due_at=now,
    )
    outbox.enqueue(connection, message, now)
