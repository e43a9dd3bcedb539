"""Which slips a print run holds: a day's missed deliveries with live links, in route order."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, select

from notifier.config import Settings
from notifier.db.tables import EVENTS, LINKS, SHIPMENT_FACTS, SHIPMENTS
from notifier.locales import language_for
from notifier.rebooking.links import link_from_row, live
from notifier.rendering.context import facts_on_shipment
from notifier.shipments import ShipmentRecord
from notifier.slips.model import Slip
from notifier.vocabulary import TERMINAL_STATUSES, Status


def _query(now: datetime) -> Select[Any]:
    return (
        select(
            LINKS,
            EVENTS.c.reason.label("event_reason"),
            EVENTS.c.occurred_at.label("event_occurred_at"),
            *SHIPMENT_FACTS,
        )
        .join(EVENTS, EVENTS.c.id == LINKS.c.status_event_id)
        .join(SHIPMENTS, SHIPMENTS.c.id == LINKS.c.shipment_id)
        # A link handed out before any attempt ("on its way") is no missed delivery yet;
        # a parcel delivered, returned or cancelled since needs no slip to rebook it.
        .where(
            live(now),
            EVENTS.c.status == str(Status.DELIVERY_ATTEMPTED),
            SHIPMENTS.c.status.not_in([str(s) for s in TERMINAL_STATUSES]),
        )
    )


def day_slips(
    connection: Connection,
    *,
    day: date,
    depot: str | None,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> list[Slip]:
    """Every missed delivery of `day` (company time zone) still open for rebooking.

    In route order where the stop is known, the rest after it by tracking number, so a
    courier's stack matches the round.
    """
    tz = ZoneInfo(settings.company.timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    query = _query(now).where(
        EVENTS.c.occurred_at >= start.astimezone(ZoneInfo("UTC")),
        EVENTS.c.occurred_at < end.astimezone(ZoneInfo("UTC")),
    )
    if depot is not None:
        query = query.where(SHIPMENTS.c.depot == depot)
    query = query.order_by(
        SHIPMENTS.c.route_stop.is_(None),
        SHIPMENTS.c.route_stop,
        SHIPMENTS.c.tracking_number,
        LINKS.c.id,
    )
    return [_slip(row, key, settings) for row in connection.execute(query)]


def shipment_slip(
    connection: Connection, tracking_number: str, *, key: bytes, settings: Settings, now: datetime
) -> Slip | None:
    """The slip of this parcel's newest live missed delivery, if it has one."""
    query = (
        _query(now)
        .where(SHIPMENTS.c.tracking_number == "".join(tracking_number.split()).upper())
        .order_by(LINKS.c.id.desc())
        .limit(1)
    )
    row = connection.execute(query).first()
    return None if row is None else _slip(row, key, settings)


def _slip(row: Any, key: bytes, settings: Settings) -> Slip:
    link = link_from_row(row, key, settings)
    shipment = ShipmentRecord.from_mapping(row._mapping, id_key="shipment_id")
    facts = facts_on_shipment(
        shipment,
        status=Status.DELIVERY_ATTEMPTED,
        reason=row.event_reason,
        occurred_at=row.event_occurred_at,
        rebooking_url=link.url,
        short_code=link.code,
    )
    return Slip(
        facts=facts,
        locale=language_for(shipment.recipient_locale, settings.company.default_locale),
        second_locale=settings.slips.second_locale,
    )
