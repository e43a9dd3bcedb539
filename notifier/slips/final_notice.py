"""Final notices (avviso di giacenza, design section 8): the last word to a recipient
whose parcel waits at a pickup point or depot and soon goes back to its sender."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, select

from notifier.config import Settings
from notifier.db.tables import REBOOKINGS, SHIPMENTS
from notifier.locales import language_for
from notifier.rebooking.links import Attempt, Link
from notifier.rendering.context import facts_on_shipment
from notifier.slips.model import Slip
from notifier.slips.printed_links import print_links
from notifier.slips.selection import Printed, count_printed, read_printed
from notifier.vocabulary import RebookOption, Status


def last_day(day: date, settings: Settings) -> date:
    """The held_until of the parcels whose final notice is printed on `day`."""
    return day + timedelta(days=settings.slips.final_notice_days)


# Held: waiting at a pickup point, or at the depot after a missed delivery, until its
# last day. A delivery the recipient booked since (another day, a neighbour, a safe place)
# answers the notice already: "collect or rebook" would contradict it.
_HELD = (str(Status.AVAILABLE_FOR_PICKUP), str(Status.DELIVERY_ATTEMPTED))
_REBOOKED_FOR_DELIVERY = (
    str(RebookOption.SLOT),
    str(RebookOption.NEIGHBOUR),
    str(RebookOption.SAFE_PLACE),
)


def held_until_due(*, day: date, depot: str | None, settings: Settings) -> ColumnElement[bool]:
    """Parcels held whose last day is `final_notice_days` after `day`, not rebooked for
    delivery since their current status."""
    rebooked = select(REBOOKINGS.c.id).where(
        REBOOKINGS.c.shipment_id == SHIPMENTS.c.id,
        REBOOKINGS.c.replaced_at.is_(None),
        REBOOKINGS.c.created_at >= SHIPMENTS.c.status_occurred_at,
        REBOOKINGS.c.kind.in_(_REBOOKED_FOR_DELIVERY),
    )
    where = and_(
        SHIPMENTS.c.status.in_(_HELD),
        SHIPMENTS.c.held_until == last_day(day, settings),
        ~rebooked.exists(),
    )
    return where if depot is None else and_(where, SHIPMENTS.c.depot == depot)


def final_notice_count(
    connection: Connection, *, day: date, depot: str | None, settings: Settings
) -> int:
    """How many final notices `day` has (one depot's, with `depot`); reads only."""
    return count_printed(connection, held_until_due(day=day, depot=depot, settings=settings))


def final_notice_slips(
    connection: Connection,
    *,
    day: date,
    depot: str | None,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> list[Slip]:
    """`day`'s final notices (one depot's, with `depot`), in route order; in a write
    transaction: a parcel without a live link gets one, and every printed link lives
    until the end of the parcel's last day."""
    found = read_printed(connection, held_until_due(day=day, depot=depot, settings=settings))
    needs = [
        Attempt(
            p.shipment.id,
            p.status_event_id,
            occurred_at=now,
            held_until=p.shipment.held_until,
            attempted=False,
        )
        for p in found
    ]
    printed = print_links(connection, needs, reissue=False, key=key, settings=settings, now=now)
    return [final_notice(p, printed[p.shipment.id], settings=settings) for p in found]


def final_notice(printed: Printed, link: Link, *, settings: Settings) -> Slip:
    """One held parcel's final notice."""
    shipment = printed.shipment
    facts = facts_on_shipment(
        shipment,
        status=shipment.status,
        reason=shipment.reason,
        occurred_at=shipment.status_occurred_at,
        rebooking_url=link.url,
        short_code=link.code,
    )
    return Slip(
        facts=facts,
        locale=language_for(shipment.recipient_locale, settings.company.default_locale),
        second_locale=settings.slips.second_locale,
        kind="final",
    )
