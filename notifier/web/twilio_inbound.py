"""The SMS recipients send us, from Twilio ("A message comes in"), signed, at an opaque
address, answered in TwiML. What an answer says is replies/answer.py's."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from twilio.twiml.messaging_response import MessagingResponse

from notifier import metrics
from notifier.db.faults import DATABASE_FAULTS, is_database_fault
from notifier.replies.answer import Inbound, answer_inbound
from notifier.urls import TWILIO_INBOUND_PATH, twilio_inbound_url
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

# A message is at most 1,600 characters (10 segments), each up to 9 bytes once
# form-encoded, beside a few hundred bytes of Twilio's own parameters.
_FORM_LIMIT = 32_768
_TWIML = "application/xml"
_SOURCE = "twilio_inbound"


@router.post(
    TWILIO_INBOUND_PATH + "{token}",
    summary="Twilio incoming message (an SMS a recipient sent)",
    response_class=Response,  # TwiML, not JSON: the 200 below says so
    responses={
        200: {
            "description": "The reply in TwiML: a <Message>, or an empty <Response>.",
            "content": {_TWIML: {"schema": {"type": "string"}}},
        },
        **SIGNED_RESPONSES,
    },
    openapi_extra={
        **form_body(
            twilio_form(
                ["MessageSid", "From"],
                {
                    "MessageSid": "The message's id at Twilio.",
                    "From": "The sender's number, E.164.",
                    "Body": "The message's text.",
                    "OptOutType": "STOP, START or HELP when Twilio's Advanced Opt-Out saw one.",
                },
            ),
            description="Twilio's incoming-message parameters, as Twilio signed them.",
        ),
        **security(TWILIO_SIGNATURE),
    },
)
async def twilio_inbound(request: Request, token: str) -> Response:
    settings = settings_of(request)
    params = await signed_form(
        request,
        token=token,
        name="twilio-inbound",
        url=twilio_inbound_url(settings),
        limit=_FORM_LIMIT,
    )
    if isinstance(params, Response):
        metrics.count_webhook(_SOURCE, metrics.refusal(params.status_code))
        return params
    sid, sender = params.get("MessageSid", ""), params.get("From", "")
    if not sid or not sender:
        metrics.count_webhook(_SOURCE, "invalid")
        return PlainTextResponse("MessageSid and From are required", status_code=400)
    message = Inbound(
        provider_id=sid[:64],
        sender=sender[:32],
        body=params.get("Body", ""),
        opt_out_type=params.get("OptOutType") or None,
    )
    try:
        # Booking waits for the database's write lock: in a worker thread, not on the loop.
        text = await run_in_threadpool(
            answer_inbound,
            request.app.state.engine,
            message,
            settings=settings,
            templates=request.app.state.templates,
            now=request_now(request),
        )
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        # Nothing was kept: a retry of the same MessageSid is answered afresh.
        log.error("twilio inbound: database unavailable (%s)", type(exc).__name__)
        return unavailable()
    metrics.count_webhook(_SOURCE, "stored")
    answer = MessagingResponse()
    if text:
        answer.message(text)
    return Response(str(answer), media_type=_TWIML)
