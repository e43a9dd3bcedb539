"""The callbacks page for the depot's staff, behind the ops password: the callbacks to
make, due or overdue, with a form to mark one made (same-origin only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.ops.promises import callback_view, day_text
from notifier.ops.store import Which, callbacks
from notifier.rebooking.promise_store import mark_callback_done
from notifier.rebooking.promises import (
    CallbackNotFoundError,
    CallbackRefusedError,
    CallMade,
    check_call,
)
from notifier.vocabulary import CallbackOutcome
from notifier.web.clock import request_now
from notifier.web.openapi_docs import error_responses
from notifier.web.ops import (
    _BAD_DEPOT,
    _YES,
    OPS_SECURITY,
    _day,
    _depot_code,
    _error,
    _page_answer,
    _refused,
)

router = APIRouter(prefix="/ops", tags=["ops"])

_SHOWS: tuple[tuple[Which, str], ...] = (
    ("all", "All"),
    ("due", "Still to call"),
    ("overdue", "Overdue"),
)
_OUTCOMES = (
    (CallbackOutcome.REACHED, "Reached"),
    (CallbackOutcome.NO_ANSWER, "No answer"),
    (CallbackOutcome.WRONG_NUMBER, "Wrong number"),
)


@dataclass(frozen=True, slots=True)
class _Filter:
    day: date | None  # None: every day (overdue only)
    depot: str | None
    show: Which

    def query(self, show: Which | None = None) -> str:
        shown = show or self.show
        day = "" if self.day is None and shown == "overdue" else self.day
        values = {"date": "" if day is None else str(day), "depot": self.depot or ""}
        if shown != "all":
            values[shown] = "1"
        return urlencode({k: v for k, v in values.items() if v})

    def fields(self) -> list[tuple[str, str]]:
        """The done forms' hidden fields: where to come back to."""
        values = [("date", "" if self.day is None else self.day.isoformat())]
        values.append(("depot", self.depot or ""))
        return values + ([(self.show, "1")] if self.show != "all" else [])


def _filter(
    settings: Settings, day_text: str, depot: str | None, due: str, overdue: str, now: datetime
) -> _Filter | str:
    """The page's filter; else what is wrong with it, naming the field."""
    due_only, overdue_only = due.lower() in _YES, overdue.lower() in _YES
    if due_only and overdue_only:
        return "due, overdue: give one of them"
    show: Which = "overdue" if overdue_only else "due" if due_only else "all"
    depot = (depot or "").strip() or None
    if depot is not None and not _depot_code(depot):
        return _BAD_DEPOT
    if not day_text.strip():
        today = now.astimezone(ZoneInfo(settings.company.timezone)).date()
        return _Filter(None if show == "overdue" else today, depot, show)
    day = _day(day_text.strip())
    if day is None:
        return "date: needs a day as YYYY-MM-DD, e.g. 2026-11-24"
    return _Filter(day, depot, show)


@router.get(
    "/callbacks",
    summary="The callbacks to make (HTML page)",
    response_class=HTMLResponse,
    responses={200: _page_answer("The page."), **error_responses(401, 429, 422, 503)},
    openapi_extra=OPS_SECURITY,
)
def callbacks_page(
    request: Request, date: str = "", depot: str | None = None, due: str = "", overdue: str = ""
) -> Response:
    """GET /ops/callbacks[?date=YYYY-MM-DD][&depot=CODE][&due=1|&overdue=1]"""
    settings: Settings = request.app.state.settings
    refused = _refused(request, settings)
    if refused is not None:
        return refused
    chosen = _filter(settings, date, depot, due, overdue, request_now(request))
    if isinstance(chosen, str):
        return _error(422, chosen)
    return _callbacks_page(request, settings, chosen)


@router.post(
    "/callbacks/{promise_id}/done",
    summary="Mark a callback made (the callbacks page's form)",
    response_class=Response,
    status_code=303,
    responses={
        303: {
            "description": "Done: back to the callbacks page.",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        **error_responses(401, 429, 403, 503),
        404: _page_answer("No such callback: the page, saying so."),
        409: _page_answer("The callback was already marked: the page, saying so."),
        422: _page_answer("A field of the form is wrong: the page, naming it."),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "by": {"type": "string", "description": "Who called."},
                            "outcome": {"type": "string", "enum": [o for o, _ in _OUTCOMES]},
                            "note": {"type": "string"},
                            "date": {"type": "string"},
                            "depot": {"type": "string"},
                            "due": {"type": "string"},
                            "overdue": {"type": "string"},
                        },
                    }
                }
            },
        },
        **OPS_SECURITY,
    },
)
async def callback_done(request: Request, promise_id: str) -> Response:
    """POST /ops/callbacks/{id}/done with by, outcome, note: the callback was made."""
    settings: Settings = request.app.state.settings
    refused = _refused(request, settings)
    if refused is not None:
        return refused
    if not _same_origin(request, settings):
        return _error(403, "this form is accepted only from notifier's own ops page")
    form = await request.form()

    def field(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    now = request_now(request)
    back = _filter(settings, field("date"), field("depot"), field("due"), field("overdue"), now)
    if isinstance(back, str):
        back = _filter(settings, "", None, "", "", now)
        assert not isinstance(back, str)
    if not promise_id.isdigit() or len(promise_id) > 18:
        return _callbacks_page(request, settings, back, status=404, error="id: no such callback")
    try:
        call = check_call(field("by"), field("outcome") or None, field("note"))
        engine = request.app.state.engine
        await run_in_threadpool(_mark_done, engine, int(promise_id), call, now)
    except CallbackNotFoundError as exc:
        return _callbacks_page(request, settings, back, status=404, error=str(exc))
    except CallbackRefusedError as exc:
        status = 409 if exc.field == "id" else 422
        return _callbacks_page(request, settings, back, status=status, error=str(exc))
    return RedirectResponse(
        f"/ops/callbacks?{back.query()}#callback-{int(promise_id)}", status_code=303
    )


def _mark_done(engine: Engine, promise_id: int, call: CallMade, now: datetime) -> None:
    # Marking waits for the database's write lock: in a worker thread, not on the loop.
    with write_transaction(engine) as connection:
        mark_callback_done(connection, promise_id, call=call, now=now)


def _callbacks_page(
    request: Request,
    settings: Settings,
    chosen: _Filter,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    now = request_now(request)
    with read_transaction(request.app.state.engine) as connection:
        found = callbacks(
            connection,
            day=chosen.day,
            depot=chosen.depot,
            which=chosen.show,
            settings=settings,
            now=now,
        )
    views = [callback_view(entry, settings=settings, now=now) for entry in found]
    heading = "every day" if chosen.day is None else day_text(chosen.day)
    label = dict(_SHOWS)[chosen.show]
    heading = f"{heading}{f', depot {chosen.depot}' if chosen.depot else ''} ({label.lower()})"
    template = request.app.state.templates.get_template("web/ops/callbacks.html")
    html = template.render(
        lang="en",
        company=settings.company,
        heading=heading,
        show=chosen.show,
        views_menu=_SHOWS,
        query_for={name: chosen.query(name) for name, _ in _SHOWS},
        day_value="" if chosen.day is None else chosen.day.isoformat(),
        depot=chosen.depot,
        callbacks=views,
        overdue_count=sum(view.overdue for view in views),
        back=chosen.fields(),
        outcomes=_OUTCOMES,
        error=error,
    )
    headers = {
        # Names and phone numbers: never kept by a proxy or browser cache.
        "Cache-Control": "no-store",
        # The site's default, no-referrer, makes a browser send `Origin: null` with a form
        # POST (Fetch standard, "append a request Origin header"): same-origin lets this
        # page's own forms say where they come from, and still tells other sites nothing.
        "Referrer-Policy": "same-origin",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def _same_origin(request: Request, settings: Settings) -> bool:
    """Whether a form POST comes from a page of ours: its Origin (else its Referer) is
    `web.public_base_url`'s origin.

    Browsers send HTTP Basic credentials with any request to this site, a form another
    site submits included, so the credentials alone cannot tell a forged request apart.
    A page cannot set Origin, and browsers send it with every POST; with neither header
    the request did not come from a browser's form and is refused as well (OWASP CSRF
    Prevention Cheat Sheet, "Verifying Origin with standard headers").
    """
    expected = _origin(str(settings.web.public_base_url))
    given = request.headers.get("origin")
    if given is None:
        referer = request.headers.get("referer")
        given = _origin(referer) if referer else None
    else:
        given = _origin(given)
    return expected is not None and given == expected


def _origin(url: str) -> str | None:
    """scheme://host[:port] of a URL, lower case, default ports left out; None for
    anything else ("null" included)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")
