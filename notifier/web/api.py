"""POST /api/v1/events: one event or an array, per-event results, never a 500 for bad input."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from notifier.config import Settings
from notifier.errors import RequestTooLargeError
from notifier.ingest.batches import Summary, ingest, payload_text
from notifier.ingest.checking import Incoming, ItemResult

router = APIRouter(prefix="/api/v1")

MAX_EVENTS_PER_REQUEST = 1000


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _authorised(request: Request, settings: Settings) -> JSONResponse | None:
    keys = settings.secrets.api_keys
    if not keys:
        return _error(503, "the events API is disabled: set NOTIFIER_API_KEY on the server")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    # Compare against every key (no early exit) so timing does not tell which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode(), key.get_secret_value().encode())
    if scheme.lower() != "bearer" or not given or not matched:
        return _error(
            401,
            "a valid API key is needed: Authorization: Bearer <key>",
            **{"WWW-Authenticate": "Bearer"},
        )
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:  # chunked uploads declare no length
            raise RequestTooLargeError(f"the body is larger than {limit} bytes")
    return bytes(body)


@router.post("/events")
async def post_events(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    refused = _authorised(request, settings)
    if refused is not None:
        return refused
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _error(415, "send the events as application/json")
    try:
        body = await _read_body(request, settings.api.max_body_bytes)
    except RequestTooLargeError as exc:
        return _error(413, str(exc))
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return _error(400, f"the body is not valid JSON: {exc}")
    items: list[Any] = document if isinstance(document, list) else [document]
    if not items:
        return _error(422, "the array holds no events")
    if len(items) > MAX_EVENTS_PER_REQUEST:
        return _error(413, f"at most {MAX_EVENTS_PER_REQUEST} events per request")
    results = await run_in_threadpool(_store, request, settings, items)
    return _response(results)


def _store(request: Request, settings: Settings, items: list[Any]) -> list[ItemResult]:
    incoming = [
        Incoming(i, item, payload_text(item) if isinstance(item, dict) else "")
        for i, item in enumerate(items)
    ]
    return list(
        ingest(
            request.app.state.engine,
            incoming,
            settings=settings,
            now=lambda: datetime.now(UTC),
            batch_size=len(items),
        )
    )


def _response(results: list[ItemResult]) -> JSONResponse:
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
        listed.append(entry)
    body = {
        "stored": summary.stored,
        "duplicates": summary.duplicates,
        "rejected": summary.rejected,
        "unknown_statuses": summary.unknown_statuses,
        "results": listed,
    }
    everything_rejected = summary.rejected == len(results)
    return JSONResponse(body, status_code=422 if everything_rejected else 200)
