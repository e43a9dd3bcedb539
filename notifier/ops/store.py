"""The SQL behind what ops read: which rebookings concern a depot's day (the bookings
list), the callbacks to make, and a day's promise figures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Label, Table, and_, func, or_, select

from notifier.config import Settings
from notifier.db.bulk import one_of
from notifier.db.tables import CONTACTS, EVENTS, LINKS, PROMISES, REBOOKINGS, SHIPMENTS
from notifier.ops.bookings import BookingLine
from notifier.rebooking.promises import UNSETTLED
from notifier.shipments import address_lines
from notifier.vocabulary import (
    REASON_BY_VALUE,
    STATUS_BY_VALUE,
    CallbackOutcome,
    ContactKind,
    PromiseExcuse,
    PromiseKind,
    PromiseState,
    Reason,
    RebookOption,
    Status,
)

# Choices that change what happens at the shipment's next attempt, not a day of their own.
_AT_NEXT_ATTEMPT = (RebookOption.PICKUP, RebookOption.NEIGHBOUR, RebookOption.SAFE_PLACE)


def _newest_valid_phone(shipment_id: Any, table: Table, label: str) -> Label[Any]:
    """The newest valid phone of the row's shipment, within the list's one query (the rule
    of rules.first_usable, SMS opt-outs aside: the depot calls, it does not text)."""
    return (
        select(CONTACTS.c.value)
        .where(
            CONTACTS.c.shipment_id == shipment_id,
            CONTACTS.c.kind == ContactKind.PHONE,
            CONTACTS.c.valid.is_(True),
        )
        .order_by(CONTACTS.c.id.desc())
        .limit(1)
        .correlate(table)
        .scalar_subquery()
        .label(label)
    )


_PHONE = _newest_valid_phone(SHIPMENTS.c.id, SHIPMENTS, "recipient_phone")


def depot_bookings(
    connection: Connection, *, day: date, depot: str | None, settings: Settings
) -> list[BookingLine]:
    """The current choices that concern `day` (company time zone), in route order.

    Slots and callbacks booked for the day; pickups, neighbours and safe places for
    shipments whose next attempt is that day (or, with no attempt date, made that day);
    disputes made that day.
    """
    tz = ZoneInfo(settings.company.timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    made_that_day = and_(REBOOKINGS.c.created_at >= start, REBOOKINGS.c.created_at < end)
    concerns_day = or_(
        and_(
            REBOOKINGS.c.kind.in_((RebookOption.SLOT, RebookOption.CALLBACK)),
            REBOOKINGS.c.day == day,
        ),
        and_(
            REBOOKINGS.c.kind.in_(_AT_NEXT_ATTEMPT),
            or_(
                SHIPMENTS.c.next_attempt_date == day,
                and_(SHIPMENTS.c.next_attempt_date.is_(None), made_that_day),
            ),
        ),
        and_(REBOOKINGS.c.kind == RebookOption.DISPUTE, made_that_day),
    )
    query = (
        select(
            REBOOKINGS,
            SHIPMENTS.c.tracking_number,
            SHIPMENTS.c.route_stop,
            SHIPMENTS.c.recipient_name,
            SHIPMENTS.c.recipient_address,
            SHIPMENTS.c.recipient_postcode,
            _PHONE,
            SHIPMENTS.c.depot,
            SHIPMENTS.c.next_attempt_date,
            SHIPMENTS.c.next_attempt_window,
        )
        .join(SHIPMENTS, SHIPMENTS.c.id == REBOOKINGS.c.shipment_id)
        .where(REBOOKINGS.c.replaced_at.is_(None), concerns_day)
        .order_by(
            SHIPMENTS.c.route_stop.is_(None),
            SHIPMENTS.c.route_stop,
            SHIPMENTS.c.tracking_number,
            REBOOKINGS.c.id,
        )
    )
    if depot is not None:
        query = query.where(SHIPMENTS.c.depot == depot)
    names = {p.code: p.name for p in [*settings.depots, *settings.pickup_points]}
    return [_line(row, names, tz) for row in connection.execute(query)]


def _line(row: Any, names: dict[str, str], tz: ZoneInfo) -> BookingLine:
    at_attempt = row.kind in _AT_NEXT_ATTEMPT
    return BookingLine(
        tracking_number=row.tracking_number,
        kind=row.kind,
        day=row.day or (row.next_attempt_date if at_attempt else None),
        window=row.window or (row.next_attempt_window if at_attempt else None),
        route_stop=row.route_stop,
        pickup_point=row.pickup_point,
        pickup_name=names.get(row.pickup_point) if row.pickup_point else None,
        neighbour_name=row.neighbour_name,
        neighbour_door=row.neighbour_door,
        instructions=row.instructions,
        callback_due=row.due_at.astimezone(tz) if row.due_at else None,
        recipient_name=row.recipient_name,
        recipient_phone=row.recipient_phone,
        recipient_address=_address(row.recipient_address, row.recipient_postcode),
        depot=row.depot,
    )


def _address(address: str | None, postcode: str | None) -> str | None:
    """One cell: 'Via Roma 1, Scala B, Milano, 20121'."""
    return ", ".join([*address_lines(address), *([postcode] if postcode else [])]) or None


@dataclass(frozen=True, slots=True)
class EarlierCallback:
    """A callback booked before, for the same parcel: the history the desk reads."""

    id: int
    booked_at: datetime
    window_start: datetime
    window_end: datetime
    state: PromiseState
    done_at: datetime | None
    done_by: str | None
    outcome: CallbackOutcome | None
    excuse: PromiseExcuse | None


@dataclass(frozen=True, slots=True)
class CallbackEntry:
    """One callback to make (or made), with what the caller needs to know."""

    id: int
    state: PromiseState
    window_start: datetime  # UTC
    window_end: datetime
    booked_at: datetime
    depot: str | None
    tracking_number: str
    recipient_name: str | None
    phone: str | None  # E.164: the newest valid one
    parcel_status: Status
    attempt_reason: Reason | None  # of the missed attempt the booking's link stands for
    attempt_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    outcome: CallbackOutcome | None
    note: str | None
    earlier: tuple[EarlierCallback, ...] = ()


Which = Literal["all", "due", "overdue"]

_UNSETTLED = tuple(str(s) for s in UNSETTLED)
# The newest valid phone of the promise's shipment (the same rule as the bookings list's).
_CALLBACK_PHONE = _newest_valid_phone(PROMISES.c.shipment_id, PROMISES, "phone")


def day_bounds(day: date, settings: Settings) -> tuple[datetime, datetime]:
    """The day's first moment and the next day's, in company time."""
    tz = ZoneInfo(settings.company.timezone)
    return (
        datetime.combine(day, time(0), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz),
    )


def callbacks(
    connection: Connection,
    *,
    day: date | None,
    depot: str | None,
    which: Which,
    settings: Settings,
    now: datetime,
) -> list[CallbackEntry]:
    """The callbacks whose window starts on `day` (company time; any day with None), in
    window order: `all` those not excused, `due` those not made yet, `overdue` those not
    made by the end of their window at `now`."""
    query = (
        select(
            PROMISES,
            REBOOKINGS.c.created_at.label("booked_at"),
            SHIPMENTS.c.tracking_number,
            SHIPMENTS.c.recipient_name,
            SHIPMENTS.c.status.label("parcel_status"),
            EVENTS.c.status.label("attempt_status"),
            EVENTS.c.reason.label("attempt_reason"),
            EVENTS.c.occurred_at.label("attempt_at"),
            _CALLBACK_PHONE,
        )
        .join(REBOOKINGS, REBOOKINGS.c.id == PROMISES.c.rebooking_id)
        .join(SHIPMENTS, SHIPMENTS.c.id == PROMISES.c.shipment_id)
        .join(LINKS, LINKS.c.id == REBOOKINGS.c.link_id)
        .join(EVENTS, EVENTS.c.id == LINKS.c.status_event_id)
        .where(PROMISES.c.kind == PromiseKind.CALLBACK)
        .order_by(PROMISES.c.window_start, PROMISES.c.id)
    )
    if day is not None:
        start, end = day_bounds(day, settings)
        query = query.where(PROMISES.c.window_start >= start, PROMISES.c.window_start < end)
    if depot is not None:
        query = query.where(PROMISES.c.depot == depot)
    if which == "all":
        query = query.where(PROMISES.c.state != PromiseState.EXCUSED)
    else:
        query = query.where(PROMISES.c.done_at.is_(None), PROMISES.c.state.in_(_UNSETTLED))
        if which == "overdue":
            query = query.where(PROMISES.c.window_end <= now)
    rows = connection.execute(query).all()
    history = _earlier(connection, {row.shipment_id for row in rows})
    return [_entry(row, history.get(row.shipment_id, [])) for row in rows]


def _earlier(connection: Connection, shipment_ids: Iterable[int]) -> dict[int, list[Any]]:
    ids = list(shipment_ids)
    if not ids:
        return {}
    query = (
        select(PROMISES, REBOOKINGS.c.created_at.label("booked_at"))
        .join(REBOOKINGS, REBOOKINGS.c.id == PROMISES.c.rebooking_id)
        .where(
            PROMISES.c.kind == PromiseKind.CALLBACK, one_of(connection, PROMISES.c.shipment_id, ids)
        )
        .order_by(PROMISES.c.id)
    )
    found: dict[int, list[Any]] = {}
    for row in connection.execute(query):
        found.setdefault(row.shipment_id, []).append(row)
    return found


def _entry(row: Any, history: list[Any]) -> CallbackEntry:
    attempted = row.attempt_status == Status.DELIVERY_ATTEMPTED
    return CallbackEntry(
        id=row.id,
        state=PromiseState(row.state),
        window_start=row.window_start,
        window_end=row.window_end,
        booked_at=row.booked_at,
        depot=row.depot,
        tracking_number=row.tracking_number,
        recipient_name=row.recipient_name,
        phone=row.phone,
        parcel_status=STATUS_BY_VALUE[row.parcel_status],
        attempt_reason=REASON_BY_VALUE.get(row.attempt_reason) if attempted else None,
        attempt_at=row.attempt_at if attempted else None,
        done_at=row.done_at,
        done_by=row.done_by,
        outcome=CallbackOutcome(row.outcome) if row.outcome else None,
        note=row.note,
        earlier=tuple(
            EarlierCallback(
                id=item.id,
                booked_at=item.booked_at,
                window_start=item.window_start,
                window_end=item.window_end,
                state=PromiseState(item.state),
                done_at=item.done_at,
                done_by=item.done_by,
                outcome=CallbackOutcome(item.outcome) if item.outcome else None,
                excuse=PromiseExcuse(item.excuse) if item.excuse else None,
            )
            for item in history
            if item.id < row.id
        ),
    )


@dataclass(slots=True)
class DayFigures:
    """One depot's promises of one kind whose window starts on a day, by state."""

    depot: str | None
    kind: PromiseKind
    kept: int = 0
    broken: int = 0
    late: int = 0  # broken, then kept: counted in `broken` too
    open: int = 0
    excused: int = 0


def day_figures(
    connection: Connection, *, day: date, depot: str | None, settings: Settings
) -> list[DayFigures]:
    """Kept, broken, open and excused promises whose window starts on `day` (company
    time zone), per depot and kind, in that order."""
    start, end = day_bounds(day, settings)
    query = (
        select(
            PROMISES.c.depot,
            PROMISES.c.kind,
            PROMISES.c.state,
            func.count().label("promises"),
            func.count(PROMISES.c.kept_at).label("kept"),
        )
        .where(PROMISES.c.window_start >= start, PROMISES.c.window_start < end)
        .group_by(PROMISES.c.depot, PROMISES.c.kind, PROMISES.c.state)
    )
    if depot is not None:
        query = query.where(PROMISES.c.depot == depot)
    figures: dict[tuple[str | None, PromiseKind], DayFigures] = {}
    for row in connection.execute(query):
        kind = PromiseKind(row.kind)
        line = figures.setdefault((row.depot, kind), DayFigures(row.depot, kind))
        state = PromiseState(row.state)
        setattr(line, state.value, getattr(line, state.value) + row.promises)
        if state is PromiseState.BROKEN:
            line.late += row.kept
    order = list(PromiseKind)
    return sorted(figures.values(), key=lambda f: (f.depot or "", order.index(f.kind)))
