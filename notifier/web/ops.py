"""Pages for the depot's staff, behind the ops password: the day's slips, a round's route
pack, the day's final notices, the day's rebookings, and the callbacks to make (with a
form to mark one made)."""

from __future__ import annotations

import hmac
from base64 import b64decode
from binascii import Error as Base64Error
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.ops.bookings import build_csv, build_json
from notifier.ops.store import depot_bookings
from notifier.slips.model import Layout, Slip
from notifier.web import ops_login
from notifier.web.clock import request_now
from notifier.web.openapi_docs import OPS_PASSWORD, error_responses, security

router = APIRouter(prefix="/ops", tags=["ops"])

# What /openapi.json says of the ops pages: who may call them, and the downloads they give.
OPS_SECURITY = security(OPS_PASSWORD)


def _download(media_type: str, what: str) -> dict[str, Any]:
    return {"description": what, "content": {media_type: {"schema": {"type": "string"}}}}


def _page_answer(what: str) -> dict[str, Any]:
    return {"description": what, "content": {"text/html": {"schema": {"type": "string"}}}}


_PDF = _download("application/pdf", "The slips, one PDF (an attachment).")

OPS_USER = "ops"


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _refused(request: Request, settings: Settings) -> JSONResponse | None:
    """None when the request carries the ops credentials (HTTP Basic, user `ops`).

    Wrong passwords are counted per client and for everyone together (ops_login.py): past
    either budget, every try answers 429 until the window has moved on, right or wrong.
    """
    password = settings.secrets.ops_password
    if password is None:
        return _error(503, "ops pages are disabled: set NOTIFIER_OPS_PASSWORD on the server")
    logins = ops_login.limits(request)
    client = request.client.host if request.client else "unknown"
    wait = logins.blocked_for(client)
    if wait:
        return _error(
            429, "too many wrong ops passwords: try again later", **{"Retry-After": str(wait)}
        )
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        user, _, given = b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (Base64Error, UnicodeDecodeError, ValueError):
        user, given = "", ""
    good_user = hmac.compare_digest(user.encode(), OPS_USER.encode())
    good_password = hmac.compare_digest(given.encode(), password.get_secret_value().encode())
    if scheme.lower() != "basic" or not (good_user and good_password):
        if encoded.strip():  # a password was tried: a missing one is only the browser asking
            logins.failed(client)
        return _error(
            401,
            f"the ops password is needed (user {OPS_USER!r})",
            **{"WWW-Authenticate": 'Basic realm="notifier ops", charset="UTF-8"'},
        )
    return None


# What other pages behind the ops password (GET /metrics in `ops` mode) ask.
refused_unless_ops = _refused


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
    if depot is not None and not _depot_code(depot):
        return _error(422, _BAD_DEPOT)
    return day


_BAD_DEPOT = "depot: must be a depot code of 1 to 64 characters, no control characters"


def _depot_code(depot: str) -> bool:
    # isprintable: a NUL would reach PostgreSQL, whose text cannot hold one (a 500).
    return 0 < len(depot) <= 64 and depot.isprintable()


@router.get(
    "/slips.pdf",
    summary="The day's missed-delivery slips (PDF)",
    response_class=Response,  # no JSON: the document lists what it does send
    responses={200: _PDF, **error_responses(401, 429, 404, 422, 503)},
    openapi_extra=OPS_SECURITY,
)
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


@router.get(
    "/route-pack.pdf",
    summary="A round's route pack (PDF)",
    response_class=Response,  # no JSON: the document lists what it does send
    responses={200: _PDF, **error_responses(401, 429, 403, 404, 422, 503)},
    openapi_extra=OPS_SECURITY,
)
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


@router.get(
    "/final-notices.pdf",
    summary="The day's final notices (PDF)",
    response_class=Response,  # no JSON: the document lists what it does send
    responses={200: _PDF, **error_responses(401, 429, 404, 422, 503)},
    openapi_extra=OPS_SECURITY,
)
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


@router.get(
    "/bookings",
    summary="The day's rebookings (CSV or JSON)",
    response_class=Response,  # no JSON: the document lists what it does send
    responses={
        200: {
            "description": "The rebookings, as `format` asks.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        },
        **error_responses(401, 429, 422, 503),
    },
    openapi_extra=OPS_SECURITY,
)
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


_YES = frozenset({"1", "true", "on", "yes"})
