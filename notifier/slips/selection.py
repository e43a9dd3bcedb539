"""Which parcels a print run before the fact takes (route packs, final notices): shipments
as they are now, with the event of their current status, in route order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, func, select

from notifier.config import Settings
from notifier.db.tables import EVENTS, SHIPMENTS
from notifier.shipments import ShipmentRecord

_UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Printed:
    """A parcel a print run takes, and the stored event of its current status: the event a
    link issued for it answers until an attempt makes the link its own."""

    shipment: ShipmentRecord
    status_event_id: int


def day_bounds(day: date, settings: Settings) -> tuple[datetime, datetime]:
    """The day in the company's time zone, as a half-open UTC interval [start, end)."""
    tz = ZoneInfo(settings.company.timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(_UTC), end.astimezone(_UTC)


def count_printed(connection: Connection, where: ColumnElement[bool]) -> int:
    """How many shipments `where` takes; reads only."""
    query = select(func.count()).select_from(SHIPMENTS).where(where)
    return int(connection.execute(query).scalar_one())


def read_printed(connection: Connection, where: ColumnElement[bool]) -> list[Printed]:
    """The shipments `where` takes, in route order: by stop where known, the rest after
    them, ties by tracking number, so the stack matches the round."""
    query = (
        select(SHIPMENTS, _current_event_id().label("current_event_id"))
        .where(where)
        .order_by(
            SHIPMENTS.c.route_stop.is_(None),
            SHIPMENTS.c.route_stop,
            SHIPMENTS.c.tracking_number,
            SHIPMENTS.c.id,
        )
    )
    return [
        Printed(ShipmentRecord.from_mapping(row._mapping), row.current_event_id)
        for row in connection.execute(query)
    ]


def _current_event_id() -> ColumnElement[int]:
    """The newest stored event with the shipment's status and status time; failing that
    (a status never seen without its event, but cheap to be sure of), its newest event."""
    same = EVENTS.alias("same_status")
    newest = EVENTS.alias("newest")
    return func.coalesce(
        select(func.max(same.c.id))
        .where(
            same.c.shipment_id == SHIPMENTS.c.id,
            same.c.status == SHIPMENTS.c.status,
            same.c.occurred_at == SHIPMENTS.c.status_occurred_at,
        )
        .scalar_subquery(),
        select(func.max(newest.c.id))
        .where(newest.c.shipment_id == SHIPMENTS.c.id)
        .scalar_subquery(),
    )
