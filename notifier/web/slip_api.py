"""GET /api/v1/shipments/{tracking}/slip.zpl: a missed delivery's slip for the driver's
label printer, and the same label for the attempts a handheld posts (?slip=zpl)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from jinja2 import Environment
from sqlalchemy import Engine

from notifier.config import Settings
from notifier.db.engine import read_transaction
from notifier.db.faults import DATABASE_FAULTS, is_database_fault
from notifier.slips.model import Slip
from notifier.slips.store import shipment_slip
from notifier.slips.zpl import DPIS, WIDTH_MM, label_printer_for, render_slip_zpl
from notifier.vocabulary import Event
from notifier.web.api_keys import api_error, authorised
from notifier.web.clock import request_now
from notifier.web.openapi_docs import API_KEY, error_responses, security

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1")

# ZPL is plain text to whoever carries it to the printer (the handheld writes the bytes
# to the Bluetooth socket as they come): no registered media type exists for it, and
# UTF-8 is what the label's ^CI28 tells the printer to expect.
ZPL_MEDIA_TYPE = "text/plain; charset=utf-8"
RETRY_AFTER_SECONDS = 30
_MAX_TRACKING = 64


# The query parameters `requested_media` reads, as /openapi.json describes them.
MEDIA_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "name": "width_mm",
        "in": "query",
        "required": False,
        "description": "The label media's printable width in mm (default: the depot's printer).",
        "schema": {"type": "number", "minimum": WIDTH_MM[0], "maximum": WIDTH_MM[1]},
    },
    {
        "name": "dpi",
        "in": "query",
        "required": False,
        "description": "The printer's resolution (default: the depot's printer).",
        "schema": {"type": "integer", "enum": list(DPIS)},
    },
)


@dataclass(frozen=True, slots=True)
class MediaChoice:
    """The media a request asks for; what it leaves out comes from the depot's printer."""

    width_mm: float | None = None
    dpi: int | None = None


def requested_media(query: Mapping[str, str]) -> MediaChoice | JSONResponse:
    """`width_mm` and `dpi` from a query string, or a 422 naming the bad one."""
    width_text = query.get("width_mm", "").strip()
    dpi_text = query.get("dpi", "").strip()
    width_mm = None
    if width_text:
        try:
            width_mm = float(width_text)
        except ValueError:
            width_mm = math.nan
        if not WIDTH_MM[0] <= width_mm <= WIDTH_MM[1]:  # NaN fails this too
            return api_error(
                422, "width_mm: must be the media's printable width in mm, from 48 to 104"
            )
    dpi = None
    if dpi_text:
        if dpi_text not in {str(d) for d in DPIS}:
            return api_error(422, "dpi: must be 203 or 300")
        dpi = int(dpi_text)
    return MediaChoice(width_mm, dpi)


def slip_label(
    slip: Slip, *, choice: MediaChoice, settings: Settings, env: Environment, now: datetime
) -> str:
    """The slip's ZPL on the media asked for, the depot's printer filling in the rest."""
    printer = label_printer_for(settings, slip.facts.depot)
    return render_slip_zpl(
        slip,
        settings=settings,
        width_mm=choice.width_mm or printer.width_mm,
        dpi=choice.dpi or printer.dpi,
        now=now,
        env=env,
    )


def attempt_labels(
    engine: Engine,
    attempts: Mapping[int, Event],
    *,
    choice: MediaChoice,
    settings: Settings,
    env: Environment,
    now: datetime,
) -> dict[int, str | None]:
    """For each stored missed delivery (by its position in the request), its slip's ZPL.

    None when its parcel's open slip tells of another attempt (a later event overtook
    this one) or has none, and for all of them when the database fails right after the
    events were stored: the events are kept, and the GET prints the slip later.
    """
    labels: dict[int, str | None] = dict.fromkeys(attempts)
    try:
        with read_transaction(engine) as connection:
            for position, event in attempts.items():
                slip = shipment_slip(
                    connection, event.tracking_number, key=settings.link_key,
                    settings=settings, now=now,
                )  # fmt: skip
                if slip is not None and slip.facts.occurred_at == event.occurred_at:
                    labels[position] = slip_label(
                        slip, choice=choice, settings=settings, env=env, now=now
                    )
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        # By type alone: a database error may quote the tracking number it looked for.
        log.error("events: slips not made, database unavailable (%s)", type(exc).__name__)
        return dict.fromkeys(attempts)
    return labels


@router.get(
    "/shipments/{tracking}/slip.zpl",
    summary="A missed delivery's slip for a label printer",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "One label, ZPL II, UTF-8 (^CI28).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 404, 422, 503),
    },
    openapi_extra={**security(API_KEY), "parameters": list(MEDIA_PARAMETERS)},
)
def slip_zpl(request: Request, tracking: str) -> Response:
    """The label for the parcel's newest open missed delivery: ZPL II, one label."""
    settings: Settings = request.app.state.settings
    refused = authorised(request, settings)
    if refused is not None:
        return refused
    choice = requested_media(request.query_params)
    if isinstance(choice, JSONResponse):
        return choice
    now = request_now(request)
    slip = None
    # A NUL is no parcel's number, and PostgreSQL's text cannot hold one (it would be a 503).
    if len(tracking) <= _MAX_TRACKING and "\x00" not in tracking:
        try:
            with read_transaction(request.app.state.engine) as connection:
                slip = shipment_slip(
                    connection, tracking, key=settings.link_key, settings=settings, now=now
                )
        except DATABASE_FAULTS as exc:
            if not is_database_fault(exc):
                raise  # a bug, such as a missing table: a 500, never a retry
            log.error("slip.zpl: database unavailable (%s)", type(exc).__name__)
            return api_error(
                503,
                "the database is unavailable: try again shortly",
                **{"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
    if slip is None:
        return api_error(404, "this parcel has no open missed delivery: there is no slip to print")
    zpl = slip_label(
        slip, choice=choice, settings=settings, env=request.app.state.templates, now=now
    )
    # The label holds a working rebooking link and the recipient's name: never cached.
    return Response(zpl, media_type=ZPL_MEDIA_TYPE, headers={"Cache-Control": "no-store"})
