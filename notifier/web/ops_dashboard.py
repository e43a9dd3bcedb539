"""GET /ops: the ops dashboard. For a day and the six before it, per depot: events in,
messages by channel and outcome, time from event to message sent, missed deliveries and
rebookings, callbacks, promises, disputes and feedback; the outbox now; and the day's
downloads (ops_index.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from notifier.config import Settings
from notifier.db.engine import read_transaction
from notifier.db.faults import DATABASE_FAULTS, is_database_fault
from notifier.feedback.store import feedback_summary
from notifier.feedback.summary import FeedbackSummary
from notifier.ops.dashboard import Section, build_section, duration_text, section_keys
from notifier.ops.dashboard_store import Window, read_figures, window
from notifier.ops.promises import day_text
from notifier.outbox.gauges import OutboxDepth, read_depth
from notifier.web.clock import request_now
from notifier.web.openapi_docs import ERROR_BODY_REF, OPS_PASSWORD, error_responses, security
from notifier.web.ops import _day, _refused
from notifier.web.ops_index import DepotDay, depot_day, read_counts

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ops", tags=["ops"])

RETRY_AFTER_SECONDS = 30
DAYS = 7  # the chosen day and the six before it
_BAD_DATE = "date: needs a day as YYYY-MM-DD, e.g. 2026-11-24"
_NO_DATABASE = "The database is not answering, so nothing could be counted: try again shortly."
_HTML = {"text/html": {"schema": {"type": "string"}}}


@dataclass(frozen=True, slots=True)
class _Shown:
    """What the page shows once every figure is read."""

    sections: list[tuple[Section, DepotDay | None]]
    outbox: str


@router.get(
    "",
    summary="The ops dashboard: a day's figures and downloads per depot (HTML page)",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The page.", "content": _HTML},
        **error_responses(401, 429),
        422: {"description": "`date` or `depot` is wrong: the page, saying so.", "content": _HTML},
        503: {
            "description": "The database is unavailable: the page, saying so (Retry-After); "
            'or ops is switched off on the server: `{"error": ...}`.',
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
            "content": {**_HTML, "application/json": {"schema": {"$ref": ERROR_BODY_REF}}},
        },
    },
    openapi_extra=security(OPS_PASSWORD),
)
def ops_dashboard(request: Request, date: str = "", depot: str = "") -> Response:
    """GET /ops[?date=YYYY-MM-DD][&depot=CODE]: the dashboard (default: today, every depot)."""
    settings: Settings = request.app.state.settings
    refused = _refused(request, settings)
    if refused is not None:
        return refused
    now = request_now(request)
    today = now.astimezone(ZoneInfo(settings.company.timezone)).date()
    given, code = date.strip(), depot.strip()
    day = _day(given) if given else today
    page = _Page(request, settings, today=today, depot=code or None)
    if day is None:
        return page.render(day=None, value=given, status=422, error=_BAD_DATE, invalid="date")
    configured = [d.code for d in settings.depots]
    if code and code not in configured:
        known = ", ".join(configured) or "none is configured"
        error = f"depot: must be one of the configured depots ({known}), or empty for all"
        return page.render(day=day, status=422, error=error, invalid="depot")
    try:
        shown = _read(request, settings, day=day, only=code or None, now=now)
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        # By type alone: a database error may quote what it was asked for.
        log.error("ops: counts not read, database unavailable (%s)", type(exc).__name__)
        response = page.render(day=day, status=503, error=_NO_DATABASE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return page.render(day=day, shown=shown)


def _read(
    request: Request, settings: Settings, *, day: date, only: str | None, now: datetime
) -> _Shown:
    engine = request.app.state.engine
    run = window(day, days=DAYS, settings=settings)
    names = {d.code: d.name for d in settings.depots}
    with read_transaction(engine) as connection:
        figures = read_figures(connection, run=run, settings=settings, now=now)
        keys = [only] if only else section_keys(figures, list(names))
        feedback = {
            key: _feedback(connection, key, run) for key in keys if key is not None and key in names
        }
    counts = read_counts(engine, day=day, settings=settings, now=now)
    tz = ZoneInfo(settings.company.timezone)
    sections = []
    for key in keys:
        section = build_section(
            figures, depot=key, name=names.get(key or ""), feedback=feedback.get(key or ""), tz=tz
        )
        downloads = None
        if key in counts:
            downloads = depot_day(
                code=key, name=names[key], day=day, counts=counts[key], settings=settings
            )
        sections.append((section, downloads))
    return _Shown(sections, _outbox_text(read_depth(engine, now=now), now=now, tz=tz))


def _feedback(
    connection: Connection, depot: str, run: Window
) -> tuple[FeedbackSummary, FeedbackSummary]:
    """The depot's answers on the run's last day, and over the whole run."""
    on_day = feedback_summary(connection, depot=depot, since=run.bounds[-2], until=run.bounds[-1])
    in_run = feedback_summary(connection, depot=depot, since=run.bounds[0], until=run.bounds[-1])
    return on_day, in_run


def _outbox_text(depth: OutboxDepth, *, now: datetime, tz: ZoneInfo) -> str:
    """The queue as it is now, whatever day is shown: every depot's messages together."""
    waiting = f"{depth.pending} message{'' if depth.pending == 1 else 's'} waiting to be sent"
    if depth.pending == 0:
        return f"{waiting}."
    if depth.oldest_due_seconds <= 0:
        return f"{waiting}, none of them late."
    due = (now - timedelta(seconds=depth.oldest_due_seconds)).astimezone(tz)
    late = duration_text(depth.oldest_due_seconds)
    return f"{waiting}; the oldest due since {due:%Y-%m-%d %H:%M} ({late} ago)."


class _Page:
    """The page for one request: the figures, or the form and why nothing is shown."""

    def __init__(self, request: Request, settings: Settings, *, today: date, depot: str | None):
        self.request, self.settings, self.today, self.depot = request, settings, today, depot

    def link(self, day: date, depot: str | None) -> str:
        values = {"date": day.isoformat(), **({"depot": depot} if depot else {})}
        return f"/ops?{urlencode(values)}"

    def render(
        self,
        *,
        day: date | None,
        value: str | None = None,
        shown: _Shown | None = None,
        status: int = 200,
        error: str | None = None,
        invalid: str | None = None,
    ) -> HTMLResponse:
        at = day or self.today

        def other(moved: date) -> tuple[str, str]:
            return day_text(moved), self.link(moved, self.depot)

        picker = [("All depots", self.link(at, None), self.depot is None)]
        picker += [
            (d.code, self.link(at, d.code), d.code == self.depot) for d in self.settings.depots
        ]
        template = self.request.app.state.templates.get_template("web/ops/dashboard.html")
        html = template.render(
            lang="en",
            company=self.settings.company,
            heading=None
            if day is None
            else day_text(day) + (" (today)" if day == self.today else ""),
            first_day=day_text(at - timedelta(days=DAYS - 1)),
            day_value=value if value is not None else at.isoformat(),
            depot_value=self.depot or "",
            invalid=invalid,
            previous_day=other(at - timedelta(days=1)),
            next_day=other(at + timedelta(days=1)),
            today=None if day == self.today else other(self.today),
            picker=picker if status == 200 else [],
            shown=shown,
            error=error,
        )
        # Ops' own page, and counts that change by the minute: never kept by a proxy or browser.
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
