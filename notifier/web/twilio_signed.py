"""A request from Twilio, proven: at our opaque path, with a signature over the URL we gave.

Both Twilio webhooks (delivery receipts, messages that come in) start the same way, so the
checks live once: the path token, the size, and `X-Twilio-Signature` validated by the twilio
package's RequestValidator against the configured public URL, never one rebuilt from the
request (a proxy may have rewritten its scheme, host and port).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator

from notifier.config import Settings
from notifier.urls import webhook_token

RETRY_AFTER_SECONDS = 30  # what a 503 asks Twilio to wait before its retry

_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# What /openapi.json says every signed webhook may answer before its own work.
SIGNED_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "A parameter Twilio always sends is missing, or one holds a NUL.",
        "content": _TEXT,
    },
    403: {"description": "X-Twilio-Signature is missing or does not match.", "content": _TEXT},
    404: {
        "description": "Not the path notifier gave Twilio (or no auth token is configured). "
        "No body."
    },
    413: {"description": "The form is larger than any Twilio sends. No body."},
    503: {
        "description": "The database is unavailable: nothing was kept, and Twilio retries "
        "after Retry-After. No body.",
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
}


def twilio_form(required: list[str], described: dict[str, str]) -> dict[str, Any]:
    """The form schema of a Twilio webhook: the parameters we read, and Twilio's others."""
    return {
        "type": "object",
        "required": required,
        "properties": {
            name: {"type": "string", "description": text} for name, text in described.items()
        },
        "additionalProperties": {"type": "string"},
    }


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def signed_form(
    request: Request, *, token: str, name: str, url: str, limit: int
) -> dict[str, str] | Response:
    """The form Twilio signed, or the answer a request that is not Twilio's gets:
    404 for a wrong path token (or no auth token configured), 413 over `limit` bytes,
    403 for a forged or missing signature, 400 for a NUL in a parameter."""
    settings = settings_of(request)
    auth_token = settings.secrets.twilio_auth_token
    if auth_token is None or not hmac.compare_digest(
        token.encode(), webhook_token(settings, name).encode()
    ):
        return Response(status_code=404)
    if int(request.headers.get("content-length") or 0) > limit:
        return Response(status_code=413)
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    validator = RequestValidator(auth_token.get_secret_value())
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not validator.validate(url, params, signature):
        return PlainTextResponse("signature does not match", status_code=403)
    # Twilio sends text, never a NUL; PostgreSQL's text cannot hold one (it would be a 503
    # that Twilio retries to the same end).
    if any("\x00" in value for value in params.values()):
        return PlainTextResponse("a parameter holds a NUL character", status_code=400)
    return params


def unavailable() -> Response:
    """The database is failing: Twilio retries once, after Retry-After."""
    return Response(status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
