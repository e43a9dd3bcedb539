"""The rating page at /f/{token}, the link a DELIVERED message carries: how did the delivery go?

One form: an optional comment and five submit buttons, so one tap sends a score with no
script. The first answer can be changed for `feedback.change_hours`, then it stands. The
form is protected as the rebooking forms are (web/guards.py: a signed double-submit token
bound to this link), rate limited per link and per client, and never cached.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_time
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.faults import DATABASE_FAULTS, RETRY_AFTER_SECONDS, is_database_fault
from notifier.feedback.answers import Answer, parse_answer
from notifier.feedback.links import MAX_TOKEN_LENGTH
from notifier.feedback.store import Opened, Recorded, open_link, record_answer
from notifier.locales import LANGUAGE_NAMES, SHIPPED_LANGUAGES, day_long, language_for
from notifier.rendering.context import format_hours, group_tracking
from notifier.urls import FEEDBACK_PATH
from notifier.web.clock import request_now
from notifier.web.guards import CSRF_COOKIE, RateLimiter, csrf_ok, csrf_token, new_csrf_cookie
from notifier.web.rebook_forms import form_field

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

# Per link: a person changing their mind a few times; per client: a household behind one
# address, as on the rebooking pages.
TOKEN_LIMIT = (30, 600.0)
CLIENT_LIMIT = (120, 60.0)
# A score and a comment of at most 2,000 characters (feedback.comment_max_chars' top),
# each up to four bytes and percent-encoded: anything far larger is not our form.
_FORM_LIMIT = 32_768
_COOKIE_PATH = FEEDBACK_PATH.rstrip("/")
_NO_STORE = {"Cache-Control": "no-store"}


def install(app: FastAPI) -> None:
    storage = app.state.limit_storage
    app.state.feedback_limits = {
        name: RateLimiter(
            limit=limit[0], window=limit[1], storage=storage, namespace=f"feedback-{name}"
        )
        for name, limit in (("token", TOKEN_LIMIT), ("client", CLIENT_LIMIT))
    }
    app.include_router(router)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _lang(request: Request, opened: Opened | None) -> str:
    """The switch link's language, else the message's (the link's own), else the company's."""
    asked = request.query_params.get("lang")
    if asked in SHIPPED_LANGUAGES:
        return asked
    fallback = _settings(request).company.default_locale
    return str(language_for(opened.locale if opened else None, fallback))


def _limited(request: Request, token: str) -> int:
    """Seconds to wait when a limit is reached for this request, else 0."""
    limits: dict[str, RateLimiter] = request.app.state.feedback_limits
    client = request.client.host if request.client else "unknown"
    return max(
        limits["client"].retry_after(client),
        limits["token"].retry_after(token[:MAX_TOKEN_LENGTH]),
    )


def _render(
    request: Request,
    name: str,
    *,
    token: str,
    lang: str,
    status: int = 200,
    form: bool = False,
    **context: Any,
) -> HTMLResponse:
    settings = _settings(request)
    path = FEEDBACK_PATH + quote(token[:MAX_TOKEN_LENGTH], safe="")
    had = request.cookies.get(CSRF_COOKIE)
    cookie = (had or new_csrf_cookie()) if form else None
    html = request.app.state.templates.get_template(name).render(
        lang=lang,
        other_langs=[(c, LANGUAGE_NAMES[c]) for c in SHIPPED_LANGUAGES if c != lang],
        # The language switch and the form go to the page itself, whatever URL answered.
        path=path,
        company=settings.company,
        company_hours=format_hours(settings.company.phone_hours, lang),
        csrf=csrf_token(settings.link_key, cookie, token) if cookie else "",
        comments=settings.feedback.comments,
        comment_max=settings.feedback.comment_max_chars,
        **context,
    )
    # The page holds a live token and what was said: never kept by a browser or a proxy.
    response = HTMLResponse(html, status_code=status, headers=_NO_STORE)
    if cookie is not None and cookie != had:
        # Behind a TLS-terminating proxy the request itself may be plain http.
        secure = request.url.scheme == "https" or str(settings.web.public_base_url).startswith(
            "https:"
        )
        response.set_cookie(
            CSRF_COOKIE, cookie, httponly=True, samesite="strict", secure=secure, path=_COOKIE_PATH
        )
    return response


def _page(
    request: Request,
    token: str,
    opened: Opened | None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    locked_now: bool = False,
) -> HTMLResponse:
    """The question (no answer yet), the thanks with the answer (changeable or not), or the
    bad link; a refused form comes back with its errors and what was written."""
    lang = _lang(request, opened)
    if opened is None:
        # Unknown and expired alike: nothing says whether a parcel exists.
        return _render(request, "web/feedback/bad_link.html", token=token, lang=lang, status=404)
    settings = _settings(request)
    context: dict[str, Any] = {
        "tracking_grouped": group_tracking(opened.tracking_number),
        "errors": errors or {},
        "values": values or {},
    }
    given = opened.given
    if given is None:
        return _render(
            request,
            "web/feedback/question.html",
            token=token,
            lang=lang,
            status=status,
            form=True,
            **context,
        )
    now = request_now(request)
    changeable = given.changeable(settings.feedback, now)
    until = given.changeable_until(settings.feedback).astimezone(
        ZoneInfo(settings.company.timezone)
    )
    if not values:
        context["values"] = {"comment": given.answer.comment or ""}
    return _render(
        request,
        "web/feedback/thanks.html",
        token=token,
        lang=lang,
        status=status,
        form=changeable,
        given=given.answer,
        changeable=changeable,
        locked_now=locked_now,
        change_until_day=day_long(until.date(), lang),
        change_until_time=format_time(until, "HH:mm", locale=lang),
        **context,
    )


def _too_many(request: Request, token: str, wait: int) -> HTMLResponse:
    response = _render(
        request,
        "web/rebook/too_many.html",
        token=token,
        lang=_lang(request, None),
        status=429,
        wait_minutes=-(-wait // 60),
    )
    response.headers["Retry-After"] = str(wait)
    return response


def _unavailable(request: Request, token: str, exc: Exception) -> HTMLResponse:
    # Logged by type alone: a database error may quote what it was given.
    log.error("feedback: database unavailable (%s)", type(exc).__name__)
    response = _render(
        request, "web/feedback/unavailable.html", token=token, lang=_lang(request, None), status=503
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _open(request: Request, token: str, now: datetime) -> Opened | None:
    with read_transaction(request.app.state.engine) as connection:
        return open_link(connection, token, now=now)


def _record(
    request: Request, token: str, answer: Answer, now: datetime
) -> tuple[Opened | None, Recorded | None]:
    """The link opened and the answer recorded in one transaction; (None, None) for a link
    that opens nothing."""
    with write_transaction(request.app.state.engine) as connection:
        opened = open_link(connection, token, now=now)
        if opened is None:
            return None, None
        recorded = record_answer(
            connection, opened, answer, settings=_settings(request).feedback, now=now
        )
        return open_link(connection, token, now=now), recorded


@router.get(FEEDBACK_PATH + "{token}", response_class=HTMLResponse)
async def rating_page(request: Request, token: str) -> Response:
    wait = _limited(request, token)
    if wait:
        return _too_many(request, token, wait)
    try:
        opened = await run_in_threadpool(_open, request, token, request_now(request))
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        return _unavailable(request, token, exc)
    return _page(request, token, opened)


@router.post(FEEDBACK_PATH + "{token}", response_class=HTMLResponse)
async def rate(request: Request, token: str) -> Response:
    """One tap: the score of the pressed button, with the comment if one was written."""
    wait = _limited(request, token)
    if wait:
        return _too_many(request, token, wait)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _FORM_LIMIT:
        return Response(status_code=413)
    form = await request.form()
    settings = _settings(request)
    now = request_now(request)
    values = {"comment": form_field(form, "comment") or ""}
    try:
        opened = await run_in_threadpool(_open, request, token, now)
        if opened is None:
            return _page(request, token, None)
        given = form_field(form, "csrf")
        if not csrf_ok(settings.link_key, request.cookies.get(CSRF_COOKIE), token, given):
            errors = {"form": "expired"}
            return _page(request, token, opened, status=403, errors=errors, values=values)
        if opened.given is not None and not opened.given.changeable(settings.feedback, now):
            return _page(request, token, opened, status=409, locked_now=True)
        answer, errors = parse_answer(
            form_field(form, "score"), values["comment"], settings.feedback
        )
        if answer is None:
            return _page(request, token, opened, status=422, errors=errors, values=values)
        opened, recorded = await run_in_threadpool(_record, request, token, answer, now)
    except DATABASE_FAULTS as exc:
        if not is_database_fault(exc):
            raise  # a bug, such as a missing table: a 500, never a retry
        return _unavailable(request, token, exc)
    if recorded is Recorded.LOCKED:
        return _page(request, token, opened, status=409, locked_now=True)
    if opened is None:
        return _page(request, token, None)
    # Post/redirect/get: a reload shows the thanks, it does not send the score again.
    lang = _lang(request, opened)
    return RedirectResponse(f"{FEEDBACK_PATH}{quote(token, safe='')}?lang={lang}", status_code=303)
