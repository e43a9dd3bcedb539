"""The depot's day list of rebookings, as CSV or JSON: what couriers and the phone desk act on."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, or_, select

from notifier.config import Settings
from notifier.db.tables import REBOOKINGS, SHIPMENTS
from notifier.vocabulary import RebookOption

# Choices that change what happens at the shipment's next attempt, not a day of their own.
_AT_NEXT_ATTEMPT = (RebookOption.PICKUP, RebookOption.NEIGHBOUR, RebookOption.SAFE_PLACE)
# A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"); what the
# recipient typed must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class BookingLine:
    tracking_number: str
    kind: str
    day: date | None
    window: str | None
    route_stop: int | None
    pickup_point: str | None  # code
    pickup_name: str | None
    neighbour_name: str | None
    neighbour_door: str | None
    instructions: str | None  # safe place, or the comment on a dispute
    callback_due: datetime | None  # company time zone
    recipient_name: str | None
    depot: str | None


FIELDS = tuple(f.name for f in fields(BookingLine))


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
        depot=row.depot,
    )


def _plain(line: BookingLine) -> dict[str, Any]:
    values = asdict(line)
    for name in ("day", "callback_due"):
        if values[name] is not None:
            values[name] = values[name].isoformat()
    return values


def build_json(lines: list[BookingLine]) -> str:
    """A JSON array of objects, one per line, dates in ISO 8601."""
    return json.dumps([_plain(line) for line in lines], ensure_ascii=False, indent=2) + "\n"


def build_csv(lines: list[BookingLine]) -> str:
    """RFC 4180 CSV with a header row; empty cells for unknown values."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for line in lines:
        writer.writerow({k: _cell(v) for k, v in _plain(line).items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value
