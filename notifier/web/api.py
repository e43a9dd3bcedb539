"""POST /api/v1/events: one event or an array, per-event results, never a 500 for bad input.

With ?slip=zpl each stored missed delivery's result carries its slip as ZPL II, so the
driver's handheld records the attempt and prints the slip in one round trip.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from notifier import strictjson
from notifier.config import Settings
from notifier.errors import RequestTooLargeError
from notifier.ingest.batches import Summary, payload_text, store_checked
from notifier.ingest.checking import Checked, Incoming, ItemResult, Outcome, check
from notifier.vocabulary import Status
from notifier.web.api_keys import api_error as _error
from notifier.web.api_keys import authorised
from notifier.web.api_schema import EVENTS_BODY_SCHEMA, EventsAnswer
from notifier.web.bodies import read_body
from notifier.web.clock import request_now
from notifier.web.openapi_docs import (
    API_KEY,
    ERROR_BODY_REF,
    error_responses,
    json_body,
    security,
)
from notifier.web.slip_api import MEDIA_PARAMETERS, MediaChoice, attempt_labels, requested_media

router = APIRouter(prefix="/api/v1")

MAX_EVENTS_PER_REQUEST = 1000


@router.post(
    "/events",
    summary="Send tracking events",
    responses={
        200: {"model": EventsAnswer, "description": "At least one event was not rejected."},
        **error_responses(400, 401, 413, 415, 503),
        422: {
            "description": "Every event was rejected (the per-event answer, naming each bad "
            "field), or the request itself is invalid (no event, a bad query parameter).",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/EventsAnswer"},
                            {"$ref": ERROR_BODY_REF},
                        ]
                    }
                }
            },
        },
    },
    openapi_extra={
        **json_body(
            EVENTS_BODY_SCHEMA,
            description="One native event, or an array of 1 to 1000. Bad events are "
            "rejected one by one; the good ones around them are still stored.",
        ),
        **security(API_KEY),
        "parameters": [
            {
                "name": "slip",
                "in": "query",
                "required": False,
                "description": "`zpl`: each stored missed delivery's result carries its slip.",
                "schema": {"type": "string", "enum": ["zpl"]},
            },
            *MEDIA_PARAMETERS,
        ],
    },
)
async def post_events(request: Request) -> JSONResponse:
    """Store events idempotently and answer per event: stored, duplicate, conflict or
    rejected (with every bad field). An event id sent again with other content is a
    conflict: the first is kept."""
    settings: Settings = request.app.state.settings
    refused = authorised(request, settings)
    if refused is not None:
        return refused
    slip = request.query_params.get("slip")
    if slip not in (None, "zpl"):
        return _error(422, "slip: must be zpl (a label for each stored missed delivery)")
    choice = requested_media(request.query_params)
    if isinstance(choice, JSONResponse):
        return choice
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _error(415, "send the events as application/json")
    try:
        body = await read_body(request, settings.api.max_body_bytes)
    except RequestTooLargeError as exc:
        return _error(413, str(exc))
    try:
        document = strictjson.loads(body)
    except (ValueError, RecursionError) as exc:
        return _error(400, f"the body is not valid JSON: {exc}")
    items: list[Any] = document if isinstance(document, list) else [document]
    if not items:
        return _error(422, "the array holds no events")
    if len(items) > MAX_EVENTS_PER_REQUEST:
        return _error(413, f"at most {MAX_EVENTS_PER_REQUEST} events per request")
    stored = await run_in_threadpool(
        _store, request, settings, items, choice if slip == "zpl" else None
    )
    return _response(*stored)


def _store(
    request: Request, settings: Settings, items: list[Any], choice: MediaChoice | None
) -> tuple[list[ItemResult], dict[int, str | None] | None]:
    """Each item's result and, with a media choice, the labels of the stored attempts."""
    now = request_now(request)
    clock = request.app.state.clock
    region = settings.company.default_phone_region
    checked = [
        check(
            Incoming(i, item, payload_text(item) if isinstance(item, dict) else ""),
            default_region=region,
            now=now,
        )
        for i, item in enumerate(items)
    ]
    engine = request.app.state.engine
    results = list(
        store_checked(engine, checked, settings=settings, now=clock, batch_size=len(items))
    )
    if choice is None:
        return results, None
    events = {c.position: c.event for c in checked if isinstance(c, Checked)}
    attempts = {
        r.position: events[r.position]
        for r in results
        if r.outcome is Outcome.STORED and events[r.position].status is Status.DELIVERY_ATTEMPTED
    }
    labels = attempt_labels(
        engine, attempts, choice=choice, settings=settings,
        env=request.app.state.templates, now=clock(),
    )  # fmt: skip
    return results, labels


def _response(results: list[ItemResult], labels: dict[int, str | None] | None) -> JSONResponse:
    summary = Summary()
    listed = []
    for result in results:
        summary.count(result)
        entry: dict[str, Any] = {
            "index": result.position,
            "event_id": result.event_id,
            "result": str(result.outcome),
        }
        if result.errors:
            entry["errors"] = [{"field": e.field, "reason": e.reason} for e in result.errors]
        if labels is not None and result.position in labels:
            entry["slip_zpl"] = labels[result.position]
        listed.append(entry)
    body = {
        "stored": summary.stored,
        "duplicates": summary.duplicates,
        "conflicts": summary.conflicts,
        "rejected": summary.rejected,
        "unknown_statuses": summary.unknown_statuses,
        "results": listed,
    }
    everything_rejected = summary.rejected == len(results)
    return JSONResponse(body, status_code=422 if everything_rejected else 200)
