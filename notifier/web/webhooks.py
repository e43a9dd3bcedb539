"""What providers tell us back: Twilio's delivery receipts, signed, at an opaque address."""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from notifier.config import Settings
from notifier.errors import DatabaseUnavailableError
from notifier.sending.receipts import apply_receipt
from notifier.urls import TWILIO_STATUS_PATH, twilio_status_url, webhook_token

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
_FORM_LIMIT = 16_384  # a status callback is a few hundred bytes


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(TWILIO_STATUS_PATH + "{token}")
async def twilio_status(request: Request, token: str) -> Response:
    settings = _settings(request)
    auth_token = settings.secrets.twilio_auth_token
    if auth_token is None or not hmac.compare_digest(
        token.encode(), webhook_token(settings, "twilio-status").encode()
    ):
        return Response(status_code=404)
    if int(request.headers.get("content-length") or 0) > _FORM_LIMIT:
        return Response(status_code=413)
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    # The URL Twilio signed is the one we gave it, on our public origin: never rebuilt
    # from the request, whose scheme, host and port a proxy may have rewritten.
    validator = RequestValidator(auth_token.get_secret_value())
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not validator.validate(twilio_status_url(settings), params, signature):
        return PlainTextResponse("signature does not match", status_code=403)
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
            now=datetime.now(UTC),
        )
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:
        # Twilio retries a callback once: a 503 keeps the receipt for that retry, and the
        # reconciliation job asks for whatever is still lost.
        log.error("twilio status: database unavailable (%s)", type(exc).__name__)
        return Response(status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return PlainTextResponse(str(outcome), status_code=200)
