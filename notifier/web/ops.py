"""Pages for the depot's staff, behind the ops password: the day's slips, the day's rebookings."""

from __future__ import annotations

import hmac
from base64 import b64decode
from binascii import Error as Base64Error
from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from notifier.config import Settings
from notifier.db.engine import read_transaction
from notifier.ops.bookings import build_csv, build_json
from notifier.ops.store import depot_bookings

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
    if layout not in ("a6", "a4x4"):
        return _error(422, "layout: must be a6 or a4x4")
    # Imported here: WeasyPrint is slow to load and only this page needs it.
    from notifier.slips.pdf import render_slips_pdf
    from notifier.slips.store import day_slips

    now = datetime.now(UTC)
    with read_transaction(request.app.state.engine) as connection:
        found = day_slips(
            connection, day=day, depot=depot, key=settings.link_key, settings=settings, now=now
        )
    if not found:
        where = f" at depot {depot}" if depot else ""
        return _error(404, f"no open missed deliveries on {day.isoformat()}{where}")
    pdf = render_slips_pdf(
        found, settings=settings, layout="a6" if layout == "a6" else "a4x4", now=now
    )
    name = f"slips-{day.isoformat()}" + (f"-{depot}" if depot else "") + ".pdf"
    safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in name)
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
