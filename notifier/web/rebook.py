"""The rebooking pages: /r/{token} from the slip's QR code, /r for the typed short code."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.locales import LANGUAGE_NAMES, SHIPPED_LANGUAGES, language_for
from notifier.rebooking.choices import (
    ChoiceInvalidError,
    ChoiceLockedError,
    ParcelDoneError,
    SlotFullError,
)
from notifier.rebooking.links import Link, resolve_code
from notifier.rebooking.store import Parcel, open_parcel
from notifier.rebooking.store import book as book_choice
from notifier.rendering.context import format_hours
from notifier.vocabulary import TERMINAL_STATUSES, RebookOption
from notifier.web.clock import request_now
from notifier.web.guards import CSRF_COOKIE, RateLimiter, csrf_ok, csrf_token, new_csrf_cookie
from notifier.web.rebook_forms import TEXT_LIMITS, form_field, parse_choice
from notifier.web.rebook_views import calendar_file, form_context, page_view, parcel_options

router = APIRouter(include_in_schema=False)

# Per link: a person changing their mind a few times; per client: a household behind one
# address. Short codes are guessable in principle, so typing them is limited hardest.
TOKEN_LIMIT = (60, 600.0)
CLIENT_LIMIT = (120, 60.0)
CODE_LIMIT = (10, 600.0)
# Typed codes from everyone together: guessing from many addresses at once meets this.
# A busy depot's recipients type a few a minute; a guesser needs millions.
CODES_GLOBAL_LIMIT = (300, 600.0)
EVERYONE = "everyone"


def install(app: FastAPI) -> None:
    storage = app.state.limit_storage

    def limiter(name: str, limit: tuple[int, float]) -> RateLimiter:
        return RateLimiter(
            limit=limit[0], window=limit[1], storage=storage, namespace=f"rebook-{name}"
        )

    app.state.rebook_limits = {
        "token": limiter("token", TOKEN_LIMIT),
        "client": limiter("client", CLIENT_LIMIT),
        "code": limiter("code", CODE_LIMIT),
        "codes": limiter("codes", CODES_GLOBAL_LIMIT),
    }
    app.include_router(router)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _limited(request: Request, **keys: str) -> int:
    """Seconds to wait when any limit is reached for this request, else 0."""
    limits: dict[str, RateLimiter] = request.app.state.rebook_limits
    client = request.client.host if request.client else "unknown"
    waits = [limits["client"].retry_after(client)]
    waits += [limits[name].retry_after(value) for name, value in keys.items()]
    return max(waits)


def _lang(request: Request, fallback: str | None, settings: Settings) -> str:
    # The switch links carry a shipped language exactly; anything else is the recipient's.
    asked = request.query_params.get("lang")
    if asked in SHIPPED_LANGUAGES:
        return asked
    return language_for(fallback, settings.company.default_locale)


# Only these pages hold a form, and only a form needs the CSRF cookie and token.
_FORM_PAGES = frozenset({"code", "option"})


def _render(
    request: Request, name: str, *, lang: str, status: int = 200, **context: Any
) -> HTMLResponse:
    settings = _settings(request)
    had = request.cookies.get(CSRF_COOKIE)
    cookie = (had or new_csrf_cookie()) if name in _FORM_PAGES else None
    form: dict[str, str] = {}
    if cookie is not None:
        scope = context.get("token", "code")
        form = {
            "csrf": csrf_token(settings.link_key, cookie, scope),
            "submission": secrets.token_urlsafe(16),
        }
    template = request.app.state.templates.get_template(f"web/rebook/{name}.html")
    html = template.render(
        lang=lang,
        other_langs=[(code, LANGUAGE_NAMES[code]) for code in SHIPPED_LANGUAGES if code != lang],
        path=context.pop("path", request.url.path),
        company=settings.company,
        company_hours=format_hours(settings.company.phone_hours, lang),
        **form,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if cookie is not None and cookie != had:
        # Behind a TLS-terminating proxy the request itself may be plain http.
        public = str(settings.web.public_base_url)
        secure = request.url.scheme == "https" or public.startswith("https:")
        response.set_cookie(
            CSRF_COOKIE, cookie, httponly=True, samesite="strict", secure=secure, path="/r"
        )
    return response


def _over_limit(request: Request, token: str) -> HTMLResponse | None:
    """The 429 page when this client or this link has asked too often, else None."""
    wait = _limited(request, token=token[:64])
    if not wait:
        return None
    return _too_many(request, wait, _lang(request, None, _settings(request)))


def _too_many(request: Request, wait: int, lang: str) -> HTMLResponse:
    response = _render(request, "too_many", lang=lang, status=429, wait_minutes=-(-wait // 60))
    response.headers["Retry-After"] = str(wait)
    return response


def _bad_link(request: Request, lang: str) -> HTMLResponse:
    # Unknown, tampered, expired and revoked alike: nothing says whether a parcel exists.
    return _render(request, "bad_link", lang=lang, status=404, path="/r")


# Every page that touches the database runs in the thread pool, never on the event loop:
# a read waits on no lock, but it does wait for a pooled connection, and with the pool
# exhausted that wait would stall every page and /healthz with it. The hop to a thread
# costs throughput (0.21 -> 0.33 of hello-world when measured); a stalled loop costs all.
@router.get("/r", response_class=HTMLResponse)
async def code_form(request: Request) -> HTMLResponse:
    settings = _settings(request)
    return _render(request, "code", lang=_lang(request, None, settings))


@router.post("/r", response_class=HTMLResponse)
async def code_submit(request: Request) -> Response:
    settings = _settings(request)
    lang = _lang(request, None, settings)
    form = await request.form()
    client = request.client.host if request.client else "unknown"
    wait = _limited(request, code=client, codes=EVERYONE)
    if wait:
        return _too_many(request, wait, lang)
    if not csrf_ok(
        settings.link_key, request.cookies.get(CSRF_COOKIE), "code", form_field(form, "csrf")
    ):
        return _render(request, "expired_form", lang=lang, status=403)
    typed = (form_field(form, "code") or "")[:64]
    link = await run_in_threadpool(_resolve, request, typed)
    if link is None:
        errors = {"code": "not_found" if typed.strip() else "missing"}
        return _render(request, "code", lang=lang, status=422, errors=errors, typed=typed)
    return RedirectResponse(f"/r/{link.token}?lang={lang}", status_code=303)


def _resolve(request: Request, typed: str) -> Link | None:
    settings = _settings(request)
    with read_transaction(request.app.state.engine) as connection:
        return resolve_code(
            connection, typed, key=settings.link_key, settings=settings, now=request_now(request)
        )


def _open(request: Request, connection: Connection, token: str) -> Parcel | None:
    """The parcel a token opens; None for unknown, tampered, expired and revoked alike."""
    settings = _settings(request)
    now = request_now(request)
    return open_parcel(connection, token, key=settings.link_key, settings=settings, now=now)


# Plain functions: FastAPI runs them in the thread pool.
@router.get("/r/{token}", response_class=HTMLResponse)
def parcel_page(request: Request, token: str) -> Response:
    return _show(request, token, None)


@router.get("/r/{token}/{option}", response_class=HTMLResponse)
def option_form(request: Request, token: str, option: str) -> Response:
    return _show(request, token, option)


def _show(request: Request, token: str, option: str | None) -> Response:
    """The parcel page (no option), an option's form, the confirmation or the .ics file."""
    settings = _settings(request)
    refused = _over_limit(request, token)
    if refused is not None:
        return refused
    with read_transaction(request.app.state.engine) as connection:
        parcel = _open(request, connection, token)
        if parcel is None:
            return _bad_link(request, _lang(request, None, settings))
        lang = _lang(request, parcel.shipment.recipient_locale, settings)
        now = request_now(request)
        if option is None:
            return _render(request, "parcel", lang=lang, **page_view(parcel, lang, settings, now))
        if option == "done":
            return _render(request, "done", lang=lang, **page_view(parcel, lang, settings, now))
        if option == "booking.ics":
            return calendar_file(parcel, settings, lang)
        if option not in parcel_options(parcel, settings):
            return _render(
                request, "parcel", lang=lang, status=404, **page_view(parcel, lang, settings, now)
            )
        if parcel.shipment.status in TERMINAL_STATUSES:
            # Delivered, going back or cancelled: the parcel page says so, with no form.
            return _render(request, "parcel", lang=lang, **page_view(parcel, lang, settings, now))
        context = form_context(connection, parcel, RebookOption(option), lang, settings, now)
        return _render(request, "option", lang=lang, **context)


@router.post("/r/{token}/{option}", response_class=HTMLResponse)
async def option_submit(request: Request, token: str, option: str) -> Response:
    form = await request.form()
    # Booking waits for the database's write lock: in a worker thread, not on the loop.
    return await run_in_threadpool(_submit, request, token, option, form)


def _submit(request: Request, token: str, option: str, form: Any) -> Response:
    settings = _settings(request)
    wait = _limited(request, token=token[:64])
    if wait:
        return _too_many(request, wait, _lang(request, None, settings))
    now = request_now(request)
    key = settings.link_key
    with read_transaction(request.app.state.engine) as connection:
        parcel = _open(request, connection, token)
        if parcel is None:
            return _bad_link(request, _lang(request, None, settings))
        lang = _lang(request, parcel.shipment.recipient_locale, settings)
        if option not in parcel_options(parcel, settings):
            return _render(
                request, "parcel", lang=lang, status=404, **page_view(parcel, lang, settings, now)
            )
        if not csrf_ok(key, request.cookies.get(CSRF_COOKIE), token, form_field(form, "csrf")):
            return _render(request, "expired_form", lang=lang, status=403, token=token)
    choice, errors = parse_choice(RebookOption(option), form)
    submission = (form_field(form, "submission") or "")[:64] or secrets.token_urlsafe(16)
    status = 422
    if choice is not None:
        try:
            with write_transaction(request.app.state.engine) as connection:
                book_choice(
                    connection,
                    link=parcel.link,
                    shipment=parcel.shipment,
                    choice=choice,
                    submission=submission,
                    settings=settings,
                    now=now,
                )
            return RedirectResponse(f"/r/{token}/done?lang={lang}", status_code=303)
        except SlotFullError:
            errors, status = {"slot": "full"}, 409
        except ChoiceLockedError:
            errors, status = {"form": "locked"}, 409
        except ParcelDoneError:
            errors, status = {"form": "done"}, 409
        except ChoiceInvalidError as exc:
            errors = {exc.field if exc.field in ("slot", "callback") else "form": "invalid"}
    with read_transaction(request.app.state.engine) as connection:
        fresh = _open(request, connection, token) or parcel
        context = form_context(connection, fresh, RebookOption(option), lang, settings, now)
    values = {name: form_field(form, name) or "" for name in TEXT_LIMITS}
    return _render(
        request, "option", lang=lang, status=status, errors=errors, values=values, **context
    )
