"""A day's printing for each depot (route pack, missed-delivery slips, final notices) with
how many slips each holds, and the way to the day's other ops pages: the downloads part of
GET /ops (notifier/web/ops_dashboard.py serves the page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from sqlalchemy import Engine

from notifier.config import Settings
from notifier.db.engine import read_transaction
from notifier.ops.promises import day_text
from notifier.slips.final_notice import final_notice_count, last_day
from notifier.slips.route_pack import route_pack_count
from notifier.slips.store import day_slips

_LAYOUTS = (("a6", "A6 PDF, one per page"), ("a4x4", "A4 PDF, four per sheet"))


@dataclass(frozen=True, slots=True)
class Counts:
    """How many slips each of a depot's downloads for the day holds."""

    route_pack: int
    slips: int
    final_notices: int


@dataclass(frozen=True, slots=True)
class Download:
    title: str
    count: int
    summary: str  # what the count counts, after the number
    links: tuple[tuple[str, str], ...]  # (text, href); none when there is nothing to print


@dataclass(frozen=True, slots=True)
class DepotDay:
    code: str
    name: str
    downloads: tuple[Download, ...]
    pages: tuple[tuple[str, str], ...]  # the day's other ops pages: (text, href)


def depot_day(*, code: str, name: str, day: date, counts: Counts, settings: Settings) -> DepotDay:
    """What the page shows for one depot on `day`, given its counts."""
    query = urlencode({"date": day.isoformat(), "depot": code})
    held = day_text(last_day(day, settings))
    downloads = (
        _download(
            "Route pack",
            path="/ops/route-pack.pdf",
            query=query,
            count=counts.route_pack,
            summary=_noun(counts.route_pack, ("parcel", "parcels")) + " on the round",
        ),
        _download(
            "Missed-delivery slips",
            path="/ops/slips.pdf",
            query=query,
            count=counts.slips,
            summary=_noun(counts.slips, ("missed delivery", "missed deliveries"))
            + " open for rebooking",
        ),
        _download(
            "Final notices",
            path="/ops/final-notices.pdf",
            query=query,
            count=counts.final_notices,
            summary=_noun(counts.final_notices, ("parcel", "parcels")) + f" held until {held}",
        ),
    )
    pages = (
        ("Rebookings (CSV)", f"/ops/bookings?{query}"),
        ("Callbacks", f"/ops/callbacks?{query}"),
    )
    return DepotDay(code=code, name=name, downloads=downloads, pages=pages)


def _download(title: str, *, path: str, query: str, count: int, summary: str) -> Download:
    if count == 0:
        return Download(title, 0, f"{summary}: nothing to print", ())
    links = tuple(
        (text, f"{path}?{query}" + ("" if layout == "a6" else f"&layout={layout}"))
        for layout, text in _LAYOUTS
    )
    return Download(title, count, summary, links)


def _noun(count: int, forms: tuple[str, str]) -> str:
    """The noun's singular or plural form for `count`."""
    return forms[0] if count == 1 else forms[1]


def read_counts(
    engine: Engine, *, day: date, settings: Settings, now: datetime
) -> dict[str, Counts]:
    """Each configured depot's counts for `day`, by depot code; reads only, issues no link."""
    found = {}
    with read_transaction(engine) as connection:
        for depot in settings.depots:
            code = depot.code
            slips = day_slips(
                connection, day=day, depot=code, key=settings.link_key, settings=settings, now=now
            )
            found[code] = Counts(
                route_pack=route_pack_count(connection, day=day, depot=code, settings=settings),
                slips=len(slips),
                final_notices=final_notice_count(
                    connection, day=day, depot=code, settings=settings
                ),
            )
    return found
