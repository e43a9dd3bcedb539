"""GET /metrics: the Prometheus exposition, to whom [web] metrics allows it.

The counters are the process's (notifier/metrics.py), or every process's when
PROMETHEUS_MULTIPROC_DIR is set: `notifier serve` replicas and `notifier worker` each
write their own files there, and whichever replica is scraped sums them all. The outbox
gauges are read from the database at scrape time, so every replica reports the same.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from ipaddress import ip_address

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier.config import Settings
from notifier.errors import DatabaseUnavailableError
from notifier.metrics import MULTIPROC_ENV, RESPONSE_SECONDS, RESPONSES
from notifier.outbox.gauges import read_depth
from notifier.web.clock import request_now
from notifier.web.ops import refused_unless_ops

router = APIRouter()

# A request relayed by a proxy on this host arrives from loopback too: these say it was.
_RELAYED = ("forwarded", "x-forwarded-for", "x-real-ip")
UNMATCHED = "unmatched"  # a path no route answers: its text is the caller's, never a label


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    refused = _refused(request, settings)
    if refused is not None:
        return refused
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(_Outbox(request.app.state.engine, request_now(request)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _refused(request: Request, settings: Settings) -> Response | None:
    """None when this caller may read the metrics: business volume is not for the public."""
    mode = settings.web.metrics
    if mode == "off":
        return Response(status_code=404)
    if mode == "open" or _direct_from_loopback(request):
        return None
    if mode == "ops":
        return refused_unless_ops(request, settings)
    return JSONResponse(
        {"error": "metrics are served only to this host ([web] metrics)"}, status_code=403
    )


def _direct_from_loopback(request: Request) -> bool:
    if request.client is None or any(name in request.headers for name in _RELAYED):
        return False
    try:
        return ip_address(request.client.host).is_loopback
    except ValueError:
        return False


class _ThisProcess(Collector):
    """The process's own registry (counters, histograms, process_* and python_*)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _Outbox(Collector):
    """The outbox's depth, read at scrape time; a database that fails leaves the gauges
    out and says so in notifier_metrics_database_error, rather than fail the scrape."""

    def __init__(self, engine: Engine, now: datetime) -> None:
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[Metric]:
        error = GaugeMetricFamily(
            "notifier_metrics_database_error",
            "1 when this scrape could not read the outbox gauges from the database.",
        )
        try:
            depth = read_depth(self.engine, now=self.now)
        except (DatabaseUnavailableError, SQLAlchemyError, OSError):
            error.add_metric([], 1)
            yield error
            return
        error.add_metric([], 0)
        yield error
        yield GaugeMetricFamily(
            "notifier_outbox_pending", "Outbox rows waiting to be sent.", value=depth.pending
        )
        yield GaugeMetricFamily(
            "notifier_outbox_oldest_due_seconds",
            "How long the oldest pending row has been due, in seconds (0: none is due).",
            value=depth.oldest_due_seconds,
        )


class CountResponses:
    """Every response counted by route template and status class, and timed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an error no one answered

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = route_template(scope)
            RESPONSES.labels(route=route, status=f"{status // 100}xx").inc()
            RESPONSE_SECONDS.labels(route=route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's template (`/r/{token}`), never the path that filled it in."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED
