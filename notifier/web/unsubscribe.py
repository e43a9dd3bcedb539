"""One-click email unsubscribe (RFC 8058) at /u/{token}, the address in every email's
List-Unsubscribe header.

A POST carrying `List-Unsubscribe=One-Click` unsubscribes. Mail clients send it on their
own, with no cookie and no page before it, so there is no CSRF token to ask for: the token
in the path is the whole authority, as a rebooking link's is, and anyone holding it could
POST from anywhere anyway. A GET only shows the page, whose button sends that same POST as
a plain form: mail scanners follow every link in a message, and a GET that acted would
unsubscribe people who never clicked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.faults import DATABASE_FAULTS, is_database_fault
from notifier.locales import LANGUAGE_NAMES, SHIPPED_LANGUAGES, language_for, parse_language
from notifier.outbox import unsubscribe as tokens
from notifier.rendering.context import format_hours
from notifier.urls import UNSUBSCRIBE_PATH, company_website
from notifier.web.clock import request_now
from notifier.web.guards import RateLimiter

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

# RFC 8058 section 3.1: the one key/value pair the POST body must hold.
ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"
# Per token: a person changing their mind a few times. Per client only on what people open
# in a browser: the one-click POST comes from mailbox providers' servers, one address for
# many of their users, and refusing it would keep emailing people who asked us to stop.
TOKEN_LIMIT = (30, 600.0)
CLIENT_LIMIT = (120, 60.0)
RETRY_AFTER_SECONDS = 30
_FORM_LIMIT = 4096  # the one-click body is 26 bytes

# What a POST does to the token's address, in the transaction that resolved it.
Action = Callable[[Connection, str, datetime], object]
# The token's address and why it is opted out of email (None: it is not), or None for a
# token that opens nothing.
Found = tuple[str, str | None] | None


def install(app: FastAPI) -> None:
    shared = {"storage": app.state.limit_storage}
    app.state.unsubscribe_limits = {
        "token": RateLimiter(
            limit=TOKEN_LIMIT[0], window=TOKEN_LIMIT[1], namespace="unsubscribe-token", **shared
        ),
        "client": RateLimiter(
            limit=CLIENT_LIMIT[0], window=CLIENT_LIMIT[1], namespace="unsubscribe-client", **shared
        ),
    }
    app.include_router(router)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _lang(request: Request, settings: Settings) -> str:
    """The switch link's language, else the browser's, else the company's.

    Not the address's last email's: the outbox is not indexed by recipient, and a scan of
    it on every page a scanner opens costs more than the guess is worth.
    """
    asked = request.query_params.get("lang")
    if asked in SHIPPED_LANGUAGES:
        return asked
    browser = accepted_language(request.headers.get("accept-language", ""))
    return browser or language_for(settings.company.default_locale, None)


def accepted_language(header: str) -> str | None:
    """The shipped language an Accept-Language header weighs highest (RFC 9110 12.5.4)."""
    weighted: list[tuple[float, str]] = []
    for item in header[:512].split(",")[:16]:
        tag, _, params = item.partition(";")
        key, _, value = params.strip().partition("=")
        try:
            weight = float(value) if key.strip() == "q" else 1.0
        except ValueError:
            continue
        language = parse_language(tag)
        if language is not None and weight > 0:  # q=0: "not this one"
            weighted.append((weight, str(language)))
    # Stable: of equal weights, the one listed first.
    return max(weighted, key=lambda pair: pair[0])[1] if weighted else None


def masked(address: str) -> str:
    """'g***@example.it': enough to tell which of one's addresses it is, not to learn it.

    The token's holder had the email itself, full address and all; the page is shown to
    whoever they forward it to, or to a scanner, and never cached (no-store).
    """
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _limited(request: Request, token: str, *, per_client: bool) -> int:
    """Seconds to wait when a limit is reached for this request, else 0."""
    limits: dict[str, RateLimiter] = request.app.state.unsubscribe_limits
    waits = [limits["token"].retry_after(token[: tokens.MAX_TOKEN_LENGTH])]
    if per_client:
        waits.append(limits["client"].retry_after(request.client.host if request.client else ""))
    return max(waits)


def _render(
    request: Request, name: str, *, lang: str, token: str, status: int = 200, **context: Any
) -> HTMLResponse:
    settings = _settings(request)
    template = request.app.state.templates.get_template(name)
    html = template.render(
        lang=lang,
        other_langs=[(code, LANGUAGE_NAMES[code]) for code in SHIPPED_LANGUAGES if code != lang],
        # The language switch and the forms go to the page itself, whatever URL answered.
        path=UNSUBSCRIBE_PATH + quote(token[: tokens.MAX_TOKEN_LENGTH], safe=""),
        company=settings.company,
        company_hours=format_hours(settings.company.phone_hours, lang),
        website=company_website(settings),
        **context,
    )
    # The page names the address, however masked: never kept by a browser or a proxy.
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _page(
    request: Request,
    token: str,
    lang: str,
    found: Found,
    *,
    status: int = 200,
    resubscribed: bool = False,
    unconfirmed: bool = False,
) -> HTMLResponse:
    """The question for a subscribed address (saying if it was just resubscribed, or if a
    POST lacked the one-click pair), the confirmation for an unsubscribed one, or the bad link.
    """
    if found is None:
        # Unknown and expired alike, and nothing changed: a link that no longer works.
        return _render(request, "web/unsubscribe/bad_link.html", lang=lang, token=token, status=404)
    address, reason = found
    if reason is None:
        name = "web/unsubscribe/confirm.html"
        context = {"resubscribed": resubscribed, "unconfirmed": unconfirmed}
    else:
        # The way back undoes only what this page did; any other opt-out is ops' to lift.
        name, context = "web/unsubscribe/done.html", {"undo": reason == tokens.REASON}
    return _render(
        request, name, lang=lang, token=token, status=status, address=masked(address), **context
    )


def _too_many(request: Request, token: str, wait: int, lang: str) -> HTMLResponse:
    response = _render(
        request,
        "web/rebook/too_many.html",
        lang=lang,
        token=token,
        status=429,
        wait_minutes=-(-wait // 60),
    )
    response.headers["Retry-After"] = str(wait)
    return response


def _unavailable(request: Request, token: str, lang: str, exc: Exception) -> HTMLResponse:
    # Logged by type alone: a database error may quote the address it was looking for.
    log.error("unsubscribe: database unavailable (%s)", type(exc).__name__)
    response = _render(
        request, "web/unsubscribe/unavailable.html", lang=lang, token=token, status=503
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _state(engine: Engine, token: str, act: Action | None, now: datetime) -> Found:
    """What the token opens, after `act` if there is one (then in a write transaction)."""
    transaction = read_transaction if act is None else write_transaction
    with transaction(engine) as connection:
        address = tokens.resolve_token(connection, token, now=now)
        if address is None:
            return None
        if act is not None:
            act(connection, address, now)
        return address, tokens.opt_out_reason(connection, address)


def _unsubscribe(connection: Connection, address: str, now: datetime) -> None:
    tokens.unsubscribe(connection, address, now=now)


def _resubscribe(connection: Connection, address: str, _now: datetime) -> bool:
    return tokens.resubscribe(connection, address)


# Every route runs its database work in a worker thread, the page too: unlike the
# rebooking pages these are rare, and an unreachable database (up to its connect timeout)
# then holds one thread rather than the event loop.
@router.get(UNSUBSCRIBE_PATH + "{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str) -> Response:
    lang = _lang(request, _settings(request))
    wait = _limited(request, token, per_client=True)
    if wait:
        return _too_many(request, token, wait, lang)
    try:
        found = await run_in_threadpool(
            _state, request.app.state.engine, token, None, request_now(request)
        )
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        return _unavailable(request, token, lang, exc)
    return _page(request, token, lang, found)


@router.post(UNSUBSCRIBE_PATH + "{token}", response_class=HTMLResponse)
async def one_click(request: Request, token: str) -> Response:
    """RFC 8058's POST, from a mail client or from the page's own button: the same body."""
    lang = _lang(request, _settings(request))
    wait = _limited(request, token, per_client=False)
    if wait:
        return _too_many(request, token, wait, lang)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _FORM_LIMIT:
        return Response(status_code=413)
    form = await request.form()
    # Anything else (a prefetch, a stray form) changes nothing and is shown the page.
    confirmed = form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    try:
        found = await run_in_threadpool(
            _state,
            request.app.state.engine,
            token,
            _unsubscribe if confirmed else None,
            request_now(request),
        )
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        return _unavailable(request, token, lang, exc)
    if confirmed or found is None:
        return _page(request, token, lang, found)
    return _page(request, token, lang, found, status=400, unconfirmed=True)


@router.post(UNSUBSCRIBE_PATH + "{token}/resubscribe", response_class=HTMLResponse)
async def resubscribe(request: Request, token: str) -> Response:
    """The way back: takes back this page's own opt-out, and only that one."""
    lang = _lang(request, _settings(request))
    wait = _limited(request, token, per_client=True)
    if wait:
        return _too_many(request, token, wait, lang)
    try:
        found = await run_in_threadpool(
            _state, request.app.state.engine, token, _resubscribe, request_now(request)
        )
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        return _unavailable(request, token, lang, exc)
    return _page(request, token, lang, found, resubscribed=True)
