"""Who may call /api/v1: a bearer key from NOTIFIER_API_KEY, and the API's JSON errors."""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.responses import JSONResponse

from notifier.config import Settings


def api_error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def authorised(request: Request, settings: Settings) -> JSONResponse | None:
    """None when the request carries a configured key (Authorization: Bearer), else the
    answer: 401, or 503 while no key is configured (the API is off)."""
    keys = settings.secrets.api_keys
    if not keys:
        return api_error(503, "the events API is disabled: set NOTIFIER_API_KEY on the server")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    # Compare against every key (no early exit) so timing does not tell which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode(), key.get_secret_value().encode())
    if scheme.lower() != "bearer" or not given or not matched:
        return api_error(
            401,
            "a valid API key is needed: Authorization: Bearer <key>",
            **{"WWW-Authenticate": "Bearer"},
        )
    return None
