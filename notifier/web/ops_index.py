"""GET /ops: a day's printing for each depot (route pack, missed-delivery slips, final
notices) with how many slips each holds, and the way to the day's other ops pages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from notifier.config import Settings
from notifier.db.engine import read_transaction
from notifier.db.faults import DATABASE_FAULTS, is_database_fault
from notifier.ops.promises import day_text
from notifier.slips.final_notice import final_notice_count, last_day
from notifier.slips.route_pack import route_pack_count
from notifier.slips.store import day_slips
from notifier.web.clock import request_now
from notifier.web.openapi_docs import ERROR_BODY_REF, OPS_PASSWORD, error_responses, security
from notifier.web.ops import _day, _refused

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ops", tags=["ops"])

RETRY_AFTER_SECONDS = 30
_LAYOUTS = (("a6", "A6 PDF, one per page"), ("a4x4", "A4 PDF, four per sheet"))
_BAD_DATE = "date: needs a day as YYYY-MM-DD, e.g. 2026-11-24"
_NO_DATABASE = "The database is not answering, so nothing could be counted: try again shortly."


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


@router.get(
    "",
    summary="The day's printing for each depot (HTML page)",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
        **error_responses(401, 429),
        422: {
            "description": "`date` is not a day: the page, saying so.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        503: {
            "description": "The database is unavailable: the page, saying so (Retry-After); "
            'or ops is switched off on the server: `{"error": ...}`.',
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/json": {"schema": {"$ref": ERROR_BODY_REF}},
            },
        },
    },
    openapi_extra=security(OPS_PASSWORD),
)
def ops_index(request: Request, date: str = "") -> Response:
    """GET /ops[?date=YYYY-MM-DD]: the day's downloads for each depot (default: today)."""
    settings: Settings = request.app.state.settings
    refused = _refused(request, settings)
    if refused is not None:
        return refused
    today = request_now(request).astimezone(ZoneInfo(settings.company.timezone)).date()
    given = date.strip()
    day = _day(given) if given else today
    if day is None:
        return _page(
            request, settings, today=today, day=None, value=given, status=422, error=_BAD_DATE
        )
    try:
        counts = read_counts(
            request.app.state.engine, day=day, settings=settings, now=request_now(request)
        )
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        # By type alone: a database error may quote what it was asked for.
        log.error("ops: counts not read, database unavailable (%s)", type(exc).__name__)
        response = _page(request, settings, today=today, day=day, status=503, error=_NO_DATABASE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    depots = [
        depot_day(code=d.code, name=d.name, day=day, counts=counts[d.code], settings=settings)
        for d in settings.depots
    ]
    return _page(request, settings, today=today, day=day, depots=depots)


def _page(
    request: Request,
    settings: Settings,
    *,
    today: date,
    day: date | None,
    value: str | None = None,
    depots: list[DepotDay] | None = None,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    """The page for `day` (None: a date that is no day; the other days move from today)."""
    shown = day or today

    def other(moved: date) -> tuple[str, str]:
        return day_text(moved), f"/ops?{urlencode({'date': moved.isoformat()})}"

    template = request.app.state.templates.get_template("web/ops/index.html")
    html = template.render(
        lang="en",
        company=settings.company,
        heading=None if day is None else day_text(day) + (" (today)" if day == today else ""),
        day_value=value if value is not None else shown.isoformat(),
        date_invalid=status == 422,
        previous_day=other(shown - timedelta(days=1)),
        next_day=other(shown + timedelta(days=1)),
        today=None if day == today else other(today),
        depots=depots,
        error=error,
    )
    # Ops' own page, and counts that change by the minute: never kept by a proxy or browser.
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
