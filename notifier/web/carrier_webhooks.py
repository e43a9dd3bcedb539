"""POST /webhooks/{source}: an aggregator's tracking webhook, verified, stored, answered.

The answer comes once the events are stored (the outbox rows with them), never before:
a 2xx is the provider's sign that it may forget the delivery. A database that cannot
store answers 503 with Retry-After (app._ContainErrors), and the provider sends again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from notifier import metrics, strictjson
from notifier.carriers import parser_for
from notifier.carriers.envelopes import other_news
from notifier.config import Settings
from notifier.config.secrets import AGGREGATORS, WEBHOOK_SECRET_ENV
from notifier.errors import RequestTooLargeError
from notifier.ingest.batches import Summary, store_checked
from notifier.ingest.checking import Checked, Incoming, ItemResult, check_payload
from notifier.urls import AGGREGATOR_WEBHOOK_PATH
from notifier.web.api_keys import api_error
from notifier.web.bodies import read_body
from notifier.web.carrier_signatures import PROOF, verified
from notifier.web.clock import request_now
from notifier.web.openapi_docs import (
    AGGREGATOR_PROOFS,
    ERROR_BODY_REF,
    KARRIO_TOKEN,
    error_responses,
    json_body,
    security,
)

router = APIRouter()
log = logging.getLogger(__name__)

# A tracking webhook is a few kilobytes (EasyPost's with its history: tens).
MAX_WEBHOOK_BYTES = 1_048_576


class WebhookAnswer(BaseModel):
    """What a delivery's answer counts, with each event's result."""

    ignored: str | None = Field(
        default=None,
        description="Set when the delivery is not tracking news (another kind of event on "
        "the same URL, e.g. batch.updated): acknowledged, nothing stored.",
    )
    stored: int
    duplicates: int
    conflicts: int
    unknown_statuses: int = Field(description="Stored as UNKNOWN: a code no table knows.")
    results: list[dict[str, str | None]] = Field(
        description="Each event's `event_id` and `result` (stored, duplicate or conflict)."
    )


# As the providers write their own names.
_NAMES = {"karrio": "Karrio", "easypost": "EasyPost", "aftership": "AfterShip", "shippo": "Shippo"}


def _documented(source: str) -> dict[str, Any]:
    schemes = [AGGREGATOR_PROOFS[source]] + ([KARRIO_TOKEN] if source == "karrio" else [])
    return {
        "summary": f"Tracking news from {_NAMES[source]}",
        "tags": ["aggregators"],
        "description": f"The provider's own webhook payload, verified by {PROOF[source]}; "
        "its newest checkpoint becomes one event. Answered once stored.",
        "responses": {
            200: {
                "model": WebhookAnswer,
                "description": "Stored (or a duplicate, or other news acknowledged).",
            },
            **error_responses(400, 401, 413, 503),
            422: {
                "description": "The payload lacks what the provider's documentation promises: "
                "`errors` names each field.",
                "content": {"application/json": {"schema": _REFUSED_SCHEMA}},
            },
        },
        "openapi_extra": {
            **json_body(
                {"type": "object", "description": f"A {source} tracking webhook body."},
                description="The body exactly as the provider sent it (the signature is over "
                "its bytes).",
            ),
            **security(*schemes),
        },
    }


_REFUSED_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "required": ["error", "errors"],
            "properties": {
                "error": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                    },
                },
            },
        },
        {"$ref": ERROR_BODY_REF},
    ]
}


def _route(source: str) -> Any:
    async def aggregator_webhook(request: Request) -> JSONResponse:
        answer = await _receive(request, source)
        metrics.count_webhook(source, _result(answer))
        return answer

    aggregator_webhook.__name__ = f"{source}_webhook"
    return aggregator_webhook


# One operation per provider, each with its own proof: an unknown name is simply 404.
for _source in AGGREGATORS:
    router.add_api_route(
        AGGREGATOR_WEBHOOK_PATH + _source,
        _route(_source),
        methods=["POST"],
        response_model=None,
        **_documented(_source),
    )


def _result(answer: JSONResponse) -> str:
    """The delivery's result as /metrics counts it, read off our own answer."""
    if answer.status_code != 200:
        return metrics.refusal(answer.status_code)
    body = json.loads(bytes(answer.body))
    if body.get("ignored"):
        return "ignored"
    return "stored" if body.get("stored") else "duplicate"


async def _receive(request: Request, source: str) -> JSONResponse:
    settings: Settings = request.app.state.settings
    secrets = settings.secrets.webhook_secrets.get(source, ())
    if not secrets:
        # Off until configured; the provider keeps the delivery and tries again.
        env = f"{WEBHOOK_SECRET_ENV}{source.upper()}"
        return api_error(503, f"the {source} webhook is disabled: set {env} on the server")
    try:
        body = await read_body(request, MAX_WEBHOOK_BYTES)
    except RequestTooLargeError as exc:
        return api_error(413, str(exc))
    if not verified(
        source, secrets, body=body, headers=request.headers, query=request.query_params
    ):
        log.warning("%s webhook: refused, not proven (%d bytes)", source, len(body))
        return api_error(401, f"not proven to come from {source}: send {PROOF[source]}")
    try:
        text = body.decode("utf-8")
        payload = strictjson.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return api_error(400, f"the body is not valid JSON: {exc}")
    ignored = other_news(source, payload)
    if ignored is not None:
        nothing = WebhookAnswer(
            ignored=ignored[:64],
            stored=0,
            duplicates=0,
            conflicts=0,
            unknown_statuses=0,
            results=[],
        )
        return JSONResponse(nothing.model_dump())
    if not isinstance(payload, dict):
        return api_error(422, f"a {source} webhook's body is a JSON object")
    return await run_in_threadpool(_store, request, settings, source, payload, text)


def _store(
    request: Request, settings: Settings, source: str, payload: dict[str, Any], text: str
) -> JSONResponse:
    now = request_now(request)
    parser = parser_for(source, local_timezone=settings.company.timezone)
    checked = check_payload(
        Incoming(0, payload, text),
        parser=parser,
        default_region=settings.company.default_phone_region,
        now=now,
    )
    rejected = [r for r in checked if isinstance(r, ItemResult)]
    if rejected:
        # The provider's payload is not what its documentation says: refused by field,
        # so the delivery stays at the provider (its log shows it) rather than vanish.
        errors = [{"field": e.field, "reason": e.reason} for r in rejected for e in r.errors]
        log.warning("%s webhook: rejected (%s)", source, ", ".join(e["field"] for e in errors))
        return JSONResponse({"error": "the payload was refused", "errors": errors}, 422)
    events = [c for c in checked if isinstance(c, Checked)]
    summary = Summary()
    results = store_checked(
        request.app.state.engine,
        events,
        settings=settings,
        now=request.app.state.clock,
        batch_size=max(1, len(events)),
    )
    listed = []
    for result in results:
        summary.count(result)
        listed.append({"event_id": result.event_id, "result": str(result.outcome)})
    if summary.conflicts:
        # The provider contradicting itself under one event id: the first is kept. The
        # answer is still 2xx: a refusal would only bring the same delivery back.
        log.warning(
            "%s webhook: %d conflicting event id(s) kept as first stored", source, summary.conflicts
        )
    counts = {
        "stored": summary.stored,
        "duplicates": summary.duplicates,
        "conflicts": summary.conflicts,
        "unknown_statuses": summary.unknown_statuses,
    }
    log.info("%s webhook: %s", source, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return JSONResponse({**counts, "results": listed})
