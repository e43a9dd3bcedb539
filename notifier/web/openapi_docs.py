"""What /openapi.json says beyond the routes' signatures: the error body and what each error
status means, the security schemes, and the request bodies of routes that read their own.

Routes use it in their decorators:

    @router.post(
        "/path",
        responses=error_responses(401, 413, 415, 422, 503),
        openapi_extra={**json_body(SCHEMA, description="..."), **security(API_KEY)},
    )
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

# The names of the security schemes, as routes cite them with `security(...)`.
API_KEY = "apiKey"
OPS_PASSWORD = "opsPassword"  # noqa: S105  # a scheme's name, not a password
TWILIO_SIGNATURE = "twilioSignature"
# Each aggregator's proof of origin (web/carrier_signatures.py), by the webhook's source.
AGGREGATOR_PROOFS = {
    "aftership": "aftershipSignature",
    "easypost": "easypostSignature",
    "karrio": "karrioSecret",
    "shippo": "shippoToken",
}
KARRIO_TOKEN = "karrioToken"  # noqa: S105  # a scheme's name, not a token

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "description": "A key from the server's NOTIFIER_API_KEY (comma-separated for several): "
        "`Authorization: Bearer <key>`.",
    },
    OPS_PASSWORD: {
        "type": "http",
        "scheme": "basic",
        "description": "User `ops`, the password from the server's NOTIFIER_OPS_PASSWORD.",
    },
    TWILIO_SIGNATURE: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Twilio-Signature",
        "description": "Twilio's signature of the configured public URL and the form "
        "parameters, under the account's auth token (HMAC-SHA1, base64). The path's token "
        "must be the one notifier gave Twilio as well: any other answers 404.",
    },
    "aftershipSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "aftership-hmac-sha256",
        "description": "AfterShip's signature: base64 HMAC-SHA256 of the raw body under the "
        "webhook secret (the server's NOTIFIER_WEBHOOK_SECRET_AFTERSHIP).",
    },
    "easypostSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Hmac-Signature",
        "description": "EasyPost's signature: `hmac-sha256-hex=` and the hex HMAC-SHA256 of the "
        "raw body, keyed with the webhook secret in NFKD form (NOTIFIER_WEBHOOK_SECRET_EASYPOST).",
    },
    "karrioSecret": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Event-Id",
        "description": "Karrio sends the webhook's own secret in this header "
        "(NOTIFIER_WEBHOOK_SECRET_KARRIO).",
    },
    KARRIO_TOKEN: {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "Or the same secret at the end of the URL, for a proxy that drops headers.",
    },
    "shippoToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "Shippo's self-generated token at the end of the webhook URL "
        "(NOTIFIER_WEBHOOK_SECRET_SHIPPO).",
    },
}


class ErrorBody(BaseModel):
    """What every JSON error of the API says: one sentence naming the field or the fix."""

    error: str = Field(
        description="What is wrong, naming the field or what to do.",
        examples=["a valid API key is needed: Authorization: Bearer <key>"],
    )


ERROR_BODY_REF = "#/components/schemas/ErrorBody"

_RETRY_AFTER = {
    "description": "Seconds to wait before trying again (sent when the database is "
    "unavailable; absent while the feature is switched off on the server).",
    "schema": {"type": "integer", "minimum": 1},
}
_WWW_AUTHENTICATE = {
    "description": "The scheme to authenticate with (`Bearer`, or `Basic` for ops).",
    "schema": {"type": "string"},
}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON (or not UTF-8).",
    401: "The credentials are missing or wrong (the API key, the ops password, or a "
    "webhook's proof of origin): the message says what to send.",
    403: "Refused although authenticated: the request did not come from notifier's own page.",
    404: "Not found: no such resource, or nothing in it yet. The message says which.",
    413: "The body is too large: over the server's [api] max_body_bytes, or more events "
    "than one request may carry.",
    415: "The body is not sent as application/json.",
    429: "Too many wrong ops passwords from this client, or from everyone together: "
    "Retry-After says when a try is taken again (the right password waits too).",
    422: "The request is understood but invalid (a query parameter out of range, a body "
    "of the wrong shape, no event in it): the message names the field.",
    503: "The database is unavailable (locked, unreachable or timed out; Retry-After says "
    "when to try again: nothing was stored), or the feature is switched off on the server "
    "(its secret is not set).",
}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One status's entry for `responses=`: the JSON error body, its description and, for
    401 and 503, the headers that come with it."""
    # The body's schema by reference, not `model`: FastAPI would file a model under the
    # route's own media type (text/plain for the label, text/html for a page).
    entry: dict[str, Any] = {
        "description": description or ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}},
    }
    if status == 401:
        entry["headers"] = {"WWW-Authenticate": _WWW_AUTHENTICATE}
    if status in (429, 503):
        entry["headers"] = {"Retry-After": _RETRY_AFTER}
    return entry


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route decorator: each code with the JSON error body `{"error": ...}`
    and the standard description (ERROR_DESCRIPTIONS); merge in your own entries to say more."""
    return {code: error_response(code) for code in codes}


def json_body(schema: dict[str, Any], *, description: str) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads its JSON body itself (no pydantic parameter)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def form_body(schema: dict[str, Any], *, description: str) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads an application/x-www-form-urlencoded form."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


def security(*schemes: str) -> dict[str, Any]:
    """`openapi_extra=` naming the security scheme a route needs (of SECURITY_SCHEMES), or
    the schemes it accepts, any one of them."""
    assert schemes, "name at least one scheme"
    unknown = set(schemes) - set(SECURITY_SCHEMES)
    assert not unknown, f"not in SECURITY_SCHEMES: {sorted(unknown)}"
    return {"security": [{scheme: []} for scheme in schemes]}


def install(app: FastAPI, *, description: str) -> None:
    """Make `app.openapi()` (what /openapi.json serves) carry the security schemes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=description, routes=app.routes
            )
            components = document.setdefault("components", {})
            components["securitySchemes"] = SECURITY_SCHEMES
            components.setdefault("schemas", {})["ErrorBody"] = ErrorBody.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
