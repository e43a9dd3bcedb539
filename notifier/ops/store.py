"""Which rebookings concern a depot's day: the SQL behind the bookings list."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, or_, select

from notifier.config import Settings
from notifier.db.tables import CONTACTS, REBOOKINGS, SHIPMENTS
from notifier.ops.bookings import BookingLine
from notifier.shipments import address_lines
from notifier.vocabulary import ContactKind, RebookOption

# Choices that change what happens at the shipment's next attempt, not a day of their own.
_AT_NEXT_ATTEMPT = (RebookOption.PICKUP, RebookOption.NEIGHBOUR, RebookOption.SAFE_PLACE)
# The newest valid phone of the row's shipment, within the list's one query (the rule of
# rules.first_usable, SMS opt-outs aside: the depot calls, it does not text).
_PHONE = (
    select(CONTACTS.c.value)
    .where(
        CONTACTS.c.shipment_id == SHIPMENTS.c.id,
        CONTACTS.c.kind == ContactKind.PHONE,
        CONTACTS.c.valid.is_(True),
    )
    .order_by(CONTACTS.c.id.desc())
    .limit(1)
    .correlate(SHIPMENTS)
    .scalar_subquery()
    .label("recipient_phone")
)


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
