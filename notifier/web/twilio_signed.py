"""A request from Twilio, proven: at our opaque path, with a signature over the URL we gave.

Both Twilio webhooks (delivery receipts, messages that come in) start the same way, so the
checks live once: the path token, the size, and `X-Twilio-Signature` validated by the twilio
package's RequestValidator against the configured public URL, never one rebuilt from the
request (a proxy may have rewritten its scheme, host and port).
"""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator

from notifier.config import Settings
from notifier.urls import webhook_token

RETRY_AFTER_SECONDS = 30  # what a 503 asks Twilio to wait before its retry


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def signed_form(
    request: Request, *, token: str, name: str, url: str, limit: int
) -> dict[str, str] | Response:
    """The form Twilio signed, or the answer a request that is not Twilio's gets:
    404 for a wrong path token (or no auth token configured), 413 over `limit` bytes,
    403 for a forged or missing signature."""
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
    return params


def unavailable() -> Response:
    """The database is failing: Twilio retries once, after Retry-After."""
    return Response(status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
