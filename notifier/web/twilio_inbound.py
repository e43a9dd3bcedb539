"""The SMS recipients send us, from Twilio ("A message comes in"), signed, at an opaque
address, answered in TwiML. What an answer says is replies/answer.py's."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from twilio.twiml.messaging_response import MessagingResponse

from notifier.errors import DatabaseUnavailableError
from notifier.replies.answer import Inbound, answer_inbound
from notifier.urls import TWILIO_INBOUND_PATH, twilio_inbound_url
from notifier.web.clock import request_now
from notifier.web.twilio_signed import settings_of, signed_form, unavailable

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

# A message is at most 1,600 characters (10 segments), each up to 9 bytes once
# form-encoded, beside a few hundred bytes of Twilio's own parameters.
_FORM_LIMIT = 32_768
_TWIML = "application/xml"


@router.post(TWILIO_INBOUND_PATH + "{token}")
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
        return params
    sid, sender = params.get("MessageSid", ""), params.get("From", "")
    if not sid or not sender:
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
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:
        # Nothing was kept: a retry of the same MessageSid is answered afresh.
        log.error("twilio inbound: database unavailable (%s)", type(exc).__name__)
        return unavailable()
    answer = MessagingResponse()
    if text:
        answer.message(text)
    return Response(str(answer), media_type=_TWIML)
