"""What providers tell us back: Twilio's delivery receipts, signed, at an opaque address."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from notifier.errors import DatabaseUnavailableError
from notifier.sending.receipts import apply_receipt
from notifier.urls import TWILIO_STATUS_PATH, twilio_status_url
from notifier.web.clock import request_now
from notifier.web.twilio_signed import settings_of, signed_form, unavailable

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

_FORM_LIMIT = 16_384  # a status callback is a few hundred bytes


@router.post(TWILIO_STATUS_PATH + "{token}")
async def twilio_status(request: Request, token: str) -> Response:
    settings = settings_of(request)
    params = await signed_form(
        request,
        token=token,
        name="twilio-status",
        url=twilio_status_url(settings),
        limit=_FORM_LIMIT,
    )
    if isinstance(params, Response):
        return params
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not sid or not status:
        return PlainTextResponse("MessageSid and MessageStatus are required", status_code=400)
    try:
        outcome = await run_in_threadpool(
            apply_receipt,
            request.app.state.engine,
            provider_id=sid[:64],
            status=status[:32],
            error_code=(params.get("ErrorCode") or None),
            settings=settings,
            now=request_now(request),
        )
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:
        # Twilio retries a callback once: a 503 keeps the receipt for that retry, and the
        # reconciliation job asks for whatever is still lost.
        log.error("twilio status: database unavailable (%s)", type(exc).__name__)
        return unavailable()
    return PlainTextResponse(str(outcome), status_code=200)
