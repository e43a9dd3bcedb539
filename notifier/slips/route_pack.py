"""Route packs (design section 8): a depot's slips for one round, printed before it, one
per parcel on the van, in route order, each with its own live link."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, and_, or_

from notifier.config import Settings
from notifier.db.tables import SHIPMENTS
from notifier.locales import language_for
from notifier.rebooking.links import Attempt, Link
from notifier.rendering.context import facts_on_shipment
from notifier.slips.model import Slip
from notifier.slips.printed_links import print_links
from notifier.slips.selection import Printed, count_printed, day_bounds, read_printed
from notifier.vocabulary import Status

# Not left the depot yet, but the carrier has planned the parcel for the round.
_PLANNED = (str(Status.CREATED), str(Status.IN_TRANSIT))


def on_the_round(*, day: date, depot: str, settings: Settings) -> ColumnElement[bool]:
    """The depot's parcels on `day`'s round: out for delivery since that day began (company
    time), or still on their way with the next attempt planned for that day."""
    start, end = day_bounds(day, settings)
    out = and_(
        SHIPMENTS.c.status == str(Status.OUT_FOR_DELIVERY),
        SHIPMENTS.c.status_occurred_at >= start,
        SHIPMENTS.c.status_occurred_at < end,
    )
    planned = and_(SHIPMENTS.c.status.in_(_PLANNED), SHIPMENTS.c.next_attempt_date == day)
    return and_(SHIPMENTS.c.depot == depot, or_(out, planned))


def route_pack_count(connection: Connection, *, day: date, depot: str, settings: Settings) -> int:
    """How many slips `day`'s route pack for `depot` holds; reads only, issues no link."""
    return count_printed(connection, on_the_round(day=day, depot=depot, settings=settings))


def route_pack_slips(
    connection: Connection,
    *,
    day: date,
    depot: str,
    reissue: bool,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> list[Slip]:
    """`day`'s route pack for `depot`, in route order; in a write transaction.

    Each parcel's slip carries its live link, issued now if it has none: printing again
    gives the same links. With `reissue`, every parcel gets a new link and its old ones
    stop opening. The attempt, when it comes, keeps the link and makes it its own, so
    the code on the slip then opens the missed delivery and its choices
    (rebooking.links.ensure_links).
    """
    found = read_printed(connection, on_the_round(day=day, depot=depot, settings=settings))
    needs = [
        # The paper is of use from now: its link lives links.valid_days from the print.
        Attempt(p.shipment.id, p.status_event_id, occurred_at=now, held_until=None, attempted=False)
        for p in found
    ]
    printed = print_links(connection, needs, reissue=reissue, key=key, settings=settings, now=now)
    return [route_slip(p, printed[p.shipment.id], day=day, settings=settings) for p in found]


def route_slip(printed: Printed, link: Link, *, day: date, settings: Settings) -> Slip:
    """The slip of one parcel on `day`'s round."""
    shipment = printed.shipment
    facts = facts_on_shipment(
        shipment,
        status=shipment.status,
        reason=None,  # the driver ticks it at the door
        occurred_at=shipment.status_occurred_at,
        rebooking_url=link.url,
        short_code=link.code,
    )
    if facts.next_attempt_date is not None and facts.next_attempt_date <= day:
        # The attempt this round makes is no next attempt: the slip says one only later.
        facts = replace(facts, next_attempt_date=None, next_attempt_window=None)
    return Slip(
        facts=facts,
        locale=language_for(shipment.recipient_locale, settings.company.default_locale),
        second_locale=settings.slips.second_locale,
        kind="route",
        round_day=day,
    )
