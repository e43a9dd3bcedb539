"""What providers tell us back: Twilio's delivery receipts, signed, at an opaque address."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from notifier import metrics
from notifier.db.faults import DATABASE_FAULTS, is_database_fault
from notifier.sending.receipts import ReceiptOutcome, apply_receipt
from notifier.urls import TWILIO_STATUS_PATH, twilio_status_url
from notifier.web.clock import request_now
from notifier.web.openapi_docs import TWILIO_SIGNATURE, form_body, security
from notifier.web.twilio_signed import (
    SIGNED_RESPONSES,
    settings_of,
    signed_form,
    twilio_form,
    unavailable,
)

router = APIRouter(tags=["twilio"])
log = logging.getLogger(__name__)

_FORM_LIMIT = 16_384  # a status callback is a few hundred bytes
_SOURCE = "twilio_status"
_RESULTS = {
    ReceiptOutcome.RECORDED: "stored",
    ReceiptOutcome.RESENDING: "stored",
    ReceiptOutcome.UNCHANGED: "duplicate",
    ReceiptOutcome.UNKNOWN: "ignored",  # not one of ours
}


@router.post(
    TWILIO_STATUS_PATH + "{token}",
    summary="Twilio status callback (a message's delivery receipt)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "What the receipt did: "
            + ", ".join(f"`{o.value}`" for o in ReceiptOutcome)
            + ".",
            "content": {
                "text/plain": {
                    "schema": {"type": "string", "enum": [o.value for o in ReceiptOutcome]}
                }
            },
        },
        **SIGNED_RESPONSES,
    },
    openapi_extra={
        **form_body(
            twilio_form(
                ["MessageSid", "MessageStatus"],
                {
                    "MessageSid": "The message's id at Twilio.",
                    "MessageStatus": "queued, sent, delivered, undelivered, failed, ...",
                    "ErrorCode": "Twilio's error code for a failed or undelivered message.",
                },
            ),
            description="Twilio's status callback parameters, as Twilio signed them.",
        ),
        **security(TWILIO_SIGNATURE),
    },
)
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
        metrics.count_webhook(_SOURCE, metrics.refusal(params.status_code))
        return params
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not sid or not status:
        metrics.count_webhook(_SOURCE, "invalid")
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
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        # Twilio retries a callback once: a 503 keeps the receipt for that retry, and the
        # reconciliation job asks for whatever is still lost.
        log.error("twilio status: database unavailable (%s)", type(exc).__name__)
        return unavailable()
    metrics.count_webhook(_SOURCE, _RESULTS[outcome])
    return PlainTextResponse(str(outcome), status_code=200)
