"""create_app(settings): the FastAPI application, its routers and its error pages."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import phonenumbers
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier.config import Settings
from notifier.db.engine import engine_from
from notifier.db.faults import RETRY_AFTER_SECONDS, is_database_fault
from notifier.locales import language_for
from notifier.rendering.context import format_hours
from notifier.rendering.environment import build_environment
from notifier.scheduler import NotifierScheduler
from notifier.web import (
    api,
    carrier_webhooks,
    docs,
    feedback,
    health,
    metrics,
    openapi_docs,
    ops,
    ops_callbacks,
    ops_dashboard,
    ops_login,
    rebook,
    slip_api,
    twilio_inbound,
    unsubscribe,
    webhooks,
)
from notifier.web.clock import Clock, wall_clock
from notifier.web.guards import SecurityHeaders, limit_storage

log = logging.getLogger(__name__)

API_DESCRIPTION = (
    "Delivery notifications for parcel couriers. Integrators send tracking events to "
    "`POST /api/v1/events` (one native event or an array) with an API key; errors answer "
    '`{"error": "..."}` naming the field, and a 503 says when to retry (`Retry-After`).'
)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    scheduler: NotifierScheduler | None = None,
    clock: Clock = wall_clock,
) -> FastAPI:
    """The web app; with a scheduler, it starts and stops with the app (`notifier run`).

    Every handler reads `now` from `clock`, so a test moves the web's time as the workers'.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()

    # FastAPI's own docs pages pull scripts from a CDN: web/docs.py serves /docs instead.
    app = FastAPI(
        title="notifier",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=docs.OPENAPI_URL,
    )
    openapi_docs.install(app, description=API_DESCRIPTION)
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine if engine is not None else engine_from(settings)
    app.state.scheduler = scheduler
    app.state.templates = build_environment(settings)
    app.state.limit_storage = limit_storage(settings.web.rate_limit_storage)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(api.router)
    app.include_router(slip_api.router)
    app.include_router(ops.router)
    app.include_router(ops_callbacks.router)
    app.include_router(ops_dashboard.router)
    app.include_router(webhooks.router)
    app.include_router(carrier_webhooks.router)
    app.include_router(twilio_inbound.router)
    app.include_router(metrics.router)
    ops_login.install(app)
    rebook.install(app)
    unsubscribe.install(app)
    feedback.install(app)
    _add_pages(app, settings)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(_ContainErrors)
    app.add_middleware(metrics.CountResponses)  # outermost: the 500s above are counted too
    return app


def _add_pages(app: FastAPI, settings: Settings) -> None:
    company = settings.company
    number = phonenumbers.parse(company.phone, company.default_phone_region)
    phone_e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        template = request.app.state.templates.get_template("web/index.html")
        lang = language_for(company.default_locale, None)
        hours = format_hours(company.phone_hours, lang)
        html = template.render(
            company=company, company_hours=hours, lang=lang, phone_e164=phone_e164
        )
        return HTMLResponse(html)

    @app.get("/static/notifier.css", include_in_schema=False)
    def stylesheet(request: Request) -> Response:
        css = request.app.state.templates.get_template("web/notifier.css").render()
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


class _ContainErrors:
    """Answer an unhandled error with a bare 500 (a database fault: 503 with Retry-After)
    and log it without its message.

    The request body can hold personal data, and so can an exception's message (a database
    error quotes its statement's parameters). Starlette's own 500 handler re-raises, and the
    server then logs the full message: errors stop here instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            fault = is_database_fault(exc)
            log.error("%s: %s", "database unavailable" if fault else "unhandled error", _trace(exc))
            if started:  # too late for an answer: the server closes the unfinished response
                return
            if fault:
                # Locked, unreachable or timed out: the sender retries, nothing is lost.
                answer = JSONResponse(
                    {"error": "the database is unavailable: try again shortly"},
                    status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            else:
                answer = JSONResponse({"error": "internal error"}, status_code=500)
            await answer(scope, receive, send)


def _trace(exc: BaseException) -> str:
    """Each exception in the chain by type, with where it was raised; never its message."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 8:
        kind = type(current)
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{kind.__module__}.{kind.__qualname__}\n{frames}")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "caused by ".join(parts).rstrip()
