"""Pages for the depot's staff, behind the ops password: the day's slips, a round's route
pack, the day's final notices, the day's rebookings, and the callbacks to make (with a
form to mark one made)."""

from __future__ import annotations

import hmac
from base64 import b64decode
from binascii import Error as Base64Error
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.ops.bookings import build_csv, build_json
from notifier.ops.promises import callback_view, day_text
from notifier.ops.store import Which, callbacks, depot_bookings
from notifier.rebooking.promise_store import mark_callback_done
from notifier.rebooking.promises import (
    CallbackNotFoundError,
    CallbackRefusedError,
    CallMade,
    check_call,
)
from notifier.slips.model import Layout, Slip
from notifier.vocabulary import CallbackOutcome
from notifier.web.clock import request_now

router = APIRouter(prefix="/ops", include_in_schema=False)

OPS_USER = "ops"


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _refused(request: Request, settings: Settings) -> JSONResponse | None:
    """None when the request carries the ops credentials (HTTP Basic, user `ops`)."""
    password = settings.secrets.ops_password
    if password is None:
        return _error(503, "ops pages are disabled: set NOTIFIER_OPS_PASSWORD on the server")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        user, _, given = b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (Base64Error, UnicodeDecodeError, ValueError):
        user, given = "", ""
    good_user = hmac.compare_digest(user.encode(), OPS_USER.encode())
    good_password = hmac.compare_digest(given.encode(), password.get_secret_value().encode())
    if scheme.lower() != "basic" or not (good_user and good_password):
        return _error(
            401,
            f"the ops password is needed (user {OPS_USER!r})",
            **{"WWW-Authenticate": 'Basic realm="notifier ops", charset="UTF-8"'},
        )
    return None


def _day_and_depot(
    request: Request, settings: Settings, day_text: str, depot: str | None
) -> date | Response:
    """The query's day once the caller is ops and the day and depot make sense; else why not."""
    refused = _refused(request, settings)
    if refused is not None:
        return refused
    day = _day(day_text)
    if day is None:
        return _error(422, "date: needs a day as YYYY-MM-DD, e.g. ?date=2026-11-22")
    if depot is not None and not 0 < len(depot) <= 64:
        return _error(422, "depot: must be a depot code of 1 to 64 characters")
    return day


@router.get("/slips.pdf")
def slips_pdf(
    request: Request, date: str = "", depot: str | None = None, layout: str = "a6"
) -> Response:
    """GET /ops/slips.pdf?date=YYYY-MM-DD[&depot=CODE][&layout=a6|a4x4]"""
    settings: Settings = request.app.state.settings
    checked = _day_and_depot(request, settings, date, depot)
    if isinstance(checked, Response):
        return checked
    day = checked
    if layout not in LAYOUTS:
        return _error(422, "layout: must be a6 or a4x4")
    from notifier.slips.store import day_slips

    now = request_now(request)
    with read_transaction(request.app.state.engine) as connection:
        found = day_slips(
            connection, day=day, depot=depot, key=settings.link_key, settings=settings, now=now
        )
    if not found:
        where = f" at depot {depot}" if depot else ""
        return _error(404, f"no open missed deliveries on {day.isoformat()}{where}")
    return _slips_pdf(
        found, settings, layout, now, f"slips-{day.isoformat()}" + (f"-{depot}" if depot else "")
    )


@router.get("/route-pack.pdf")
def route_pack_pdf(
    request: Request,
    date: str = "",
    depot: str | None = None,
    layout: str = "a6",
    reissue: str = "",
) -> Response:
    """GET /ops/route-pack.pdf?date=YYYY-MM-DD&depot=CODE[&layout=a6|a4x4][&reissue=1]

    Issues a link to each parcel on the round that has none (a write): printing the
    same pack again gives the same links; with reissue, new ones that end the old.
    """
    settings: Settings = request.app.state.settings
    checked = _day_and_depot(request, settings, date, depot)
    if isinstance(checked, Response):
        return checked
    day = checked
    if depot is None:
        return _error(422, "depot: a route pack is one depot's round, e.g. ?depot=MI01")
    if layout not in LAYOUTS:
        return _error(422, "layout: must be a6 or a4x4")
    again = reissue.lower() in _YES
    # Reissuing ends every link of the round: another site must not make a signed-in
    # browser do it (an <img> is enough). Browsers say where a request comes from
    # (Fetch Metadata, Sec-Fetch-Site); one typed or bookmarked says "none".
    if again and request.headers.get("sec-fetch-site", "none") not in ("same-origin", "none"):
        return _error(403, "reissue is accepted only from notifier's own ops page")
    from notifier.slips.route_pack import route_pack_slips

    now = request_now(request)
    with write_transaction(request.app.state.engine) as connection:
        found = route_pack_slips(
            connection,
            day=day,
            depot=depot,
            reissue=again,
            key=settings.link_key,
            settings=settings,
            now=now,
        )
    if not found:
        return _error(404, f"no parcels on depot {depot}'s round on {day.isoformat()}")
    return _slips_pdf(found, settings, layout, now, f"route-pack-{day.isoformat()}-{depot}")


@router.get("/final-notices.pdf")
def final_notices_pdf(
    request: Request, date: str = "", depot: str | None = None, layout: str = "a6"
) -> Response:
    """GET /ops/final-notices.pdf?date=YYYY-MM-DD[&depot=CODE][&layout=a6|a4x4]

    The notices printed on `date`: parcels held until [slips] final_notice_days later.
    """
    settings: Settings = request.app.state.settings
    checked = _day_and_depot(request, settings, date, depot)
    if isinstance(checked, Response):
        return checked
    day = checked
    if layout not in LAYOUTS:
        return _error(422, "layout: must be a6 or a4x4")
    from notifier.slips.final_notice import final_notice_slips, last_day

    now = request_now(request)
    with write_transaction(request.app.state.engine) as connection:
        found = final_notice_slips(
            connection, day=day, depot=depot, key=settings.link_key, settings=settings, now=now
        )
    if not found:
        where = f" at depot {depot}" if depot else ""
        held = last_day(day, settings).isoformat()
        return _error(404, f"no parcels held for collection until {held}{where}")
    stem = f"final-notices-{day.isoformat()}" + (f"-{depot}" if depot else "")
    return _slips_pdf(found, settings, layout, now, stem)


LAYOUTS = ("a6", "a4x4")


def _slips_pdf(
    found: list[Slip], settings: Settings, layout: str, now: datetime, stem: str
) -> Response:
    """The slips as one PDF download, laid out as asked (a checked one of LAYOUTS)."""
    # Imported here: WeasyPrint is slow to load and only these downloads need it.
    from notifier.slips.pdf import render_slips_pdf

    chosen: Layout = "a6" if layout == "a6" else "a4x4"
    return _pdf(render_slips_pdf(found, settings=settings, layout=chosen, now=now), stem)


def _pdf(pdf: bytes, stem: str) -> Response:
    safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in f"{stem}.pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            # Slips carry names and working links: never kept by a proxy or browser cache.
            "Cache-Control": "no-store",
        },
    )


@router.get("/bookings")
def bookings(
    request: Request, date: str = "", depot: str | None = None, format: str = "csv"
) -> Response:
    """GET /ops/bookings?date=YYYY-MM-DD[&depot=CODE][&format=csv|json]"""
    settings: Settings = request.app.state.settings
    checked = _day_and_depot(request, settings, date, depot)
    if isinstance(checked, Response):
        return checked
    day = checked
    if format not in ("csv", "json"):
        return _error(422, "format: must be csv or json")
    with read_transaction(request.app.state.engine) as connection:
        found = depot_bookings(connection, day=day, depot=depot, settings=settings)
    # Names, phones, addresses, neighbours and instructions: never kept by a proxy or
    # browser cache.
    headers = {"Cache-Control": "no-store"}
    if format == "json":
        return Response(build_json(found), media_type="application/json", headers=headers)
    name = f"bookings-{day.isoformat()}" + (f"-{depot}" if depot else "") + ".csv"
    safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in name)
    headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return Response(build_csv(found), media_type="text/csv; charset=utf-8", headers=headers)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


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
_YES = frozenset({"1", "true", "on", "yes"})


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
    if depot is not None and len(depot) > 64:
        return "depot: must be a depot code of 1 to 64 characters"
    if not day_text.strip():
        today = now.astimezone(ZoneInfo(settings.company.timezone)).date()
        return _Filter(None if show == "overdue" else today, depot, show)
    day = _day(day_text.strip())
    if day is None:
        return "date: needs a day as YYYY-MM-DD, e.g. 2026-11-24"
    return _Filter(day, depot, show)


@router.get("/callbacks")
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


@router.post("/callbacks/{promise_id}/done")
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
