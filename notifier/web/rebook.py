"""The rebooking pages: /r/{token} from the slip's QR code, /r for the typed short code."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_date
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, and_, bindparam, select
from starlette.concurrency import run_in_threadpool

from notifier.calendar import build_ics
from notifier.config import RebookOption, Settings
from notifier.db import read_transaction, write_transaction
from notifier.ingest import SHIPMENTS
from notifier.links import LINKS, Link, hash_token, link_from_row, resolve_code, secret_key
from notifier.messages import (
    SHIPPED_LOCALES,
    build_context,
    choose_locale,
    facts_on_shipment,
    format_hours,
)
from notifier.rebooking import (
    REBOOKINGS,
    Booked,
    ChoiceInvalidError,
    ChoiceLockedError,
    SlotFullError,
    booked_from_row,
    locked_since,
    offered_days,
    options_for,
    slot_offers,
)
from notifier.rebooking import book as book_choice
from notifier.vocabulary import Status
from notifier.web.guards import CSRF_COOKIE, RateLimiter, csrf_ok, csrf_token, new_csrf_cookie
from notifier.web.rebook_forms import TEXT_LIMITS, form_field, parse_choice

router = APIRouter(include_in_schema=False)

# Per link: a person changing their mind a few times; per client: a household behind one
# address. Short codes are guessable in principle, so typing them is limited hardest.
TOKEN_LIMIT = (60, 600.0)
CLIENT_LIMIT = (120, 60.0)
CODE_LIMIT = (10, 600.0)
# Each language named in itself, for the switch.
LANGUAGE_NAMES = {"it": "Italiano", "en": "English"}


def install(app: FastAPI) -> None:
    app.state.rebook_limits = {
        "token": RateLimiter(limit=TOKEN_LIMIT[0], window=TOKEN_LIMIT[1]),
        "client": RateLimiter(limit=CLIENT_LIMIT[0], window=CLIENT_LIMIT[1]),
        "code": RateLimiter(limit=CODE_LIMIT[0], window=CODE_LIMIT[1]),
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
    asked = request.query_params.get("lang")
    return asked if asked in SHIPPED_LOCALES else choose_locale(fallback, settings)


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
            "csrf": csrf_token(secret_key(settings), cookie, scope),
            "submission": secrets.token_urlsafe(16),
        }
    template = request.app.state.templates.get_template(f"web/rebook/{name}.html")
    html = template.render(
        lang=lang,
        other_langs=[(code, LANGUAGE_NAMES[code]) for code in SHIPPED_LOCALES if code != lang],
        path=context.pop("path", request.url.path),
        company=settings.company,
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


# The GET pages run on the event loop, not in the thread pool: they only read, which
# never waits on a lock (SQLite WAL readers, PostgreSQL MVCC), and the hop to a worker
# thread under load cost more than the page itself (0.21 -> 0.33 of hello-world). A
# booking writes and may wait for the write lock, so it runs in a thread.
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
    wait = _limited(request, code=client)
    if wait:
        return _too_many(request, wait, lang)
    if not csrf_ok(
        secret_key(settings), request.cookies.get(CSRF_COOKIE), "code", form_field(form, "csrf")
    ):
        return _render(request, "expired_form", lang=lang, status=403)
    typed = (form_field(form, "code") or "")[:64]
    now = datetime.now(UTC)
    with read_transaction(request.app.state.engine) as connection:
        link = resolve_code(connection, typed, key=secret_key(settings), settings=settings, now=now)
    if link is None:
        errors = {"code": "not_found" if typed.strip() else "missing"}
        return _render(request, "code", lang=lang, status=422, errors=errors, typed=typed)
    return RedirectResponse(f"/r/{link.token}?lang={lang}", status_code=303)


# The link and its shipment in one statement, built once: a page view runs it on every
# request. A token is looked up by its hash, live links only, as links.resolve_token does.
_PAGE = (
    select(
        LINKS.c.id,
        LINKS.c.shipment_id,
        LINKS.c.status_event_id,
        LINKS.c.salt,
        LINKS.c.code_round,
        LINKS.c.expires_at,
        *[c for c in SHIPMENTS.c if c.name not in ("id", "created_at", "updated_at")],
        *[c.label(f"choice_{c.name}") for c in REBOOKINGS.c],
    )
    .join(SHIPMENTS, SHIPMENTS.c.id == LINKS.c.shipment_id)
    # The current choice, if any: a shipment has at most one that is not replaced.
    .outerjoin(
        REBOOKINGS,
        and_(REBOOKINGS.c.shipment_id == LINKS.c.shipment_id, REBOOKINGS.c.replaced_at.is_(None)),
    )
    .where(
        LINKS.c.token_hash == bindparam("hash"),
        LINKS.c.revoked_at.is_(None),
        LINKS.c.expires_at > bindparam("now"),
    )
    .order_by(REBOOKINGS.c.id.desc())
    .limit(1)
)


class _Parcel:
    """A link with its shipment and the recipient's current choice."""

    def __init__(self, row: Any, settings: Settings) -> None:
        self.link: Link = link_from_row(row, secret_key(settings), settings)
        values = dict(row._mapping)
        choice = {
            k.removeprefix("choice_"): values.pop(k)
            for k in list(values)
            if k.startswith("choice_")
        }
        # The shipment's own columns, with its id where the row has the link's.
        self.shipment = SimpleNamespace(**{**values, "id": row.shipment_id})
        self.current: Booked | None = (
            booked_from_row(SimpleNamespace(**choice)) if choice["id"] is not None else None
        )


def _open(request: Request, connection: Connection, token: str) -> _Parcel | None:
    """The parcel a token opens; None for unknown, tampered, expired and revoked alike."""
    if not token or len(token) > 64:
        return None
    params = {"hash": hash_token(token), "now": datetime.now(UTC)}
    row = connection.execute(_PAGE, params).first()
    return None if row is None else _Parcel(row, _settings(request))


def _masked(name: str | None) -> str | None:
    """'Giovanni Bianchi' -> 'G. B.': enough to tell it is yours, not to learn a name."""
    if not name:
        return None
    return " ".join(f"{part[0]}." for part in name.split() if part[:1].isalpha()) or None


def _postcode_prefix(postcode: str | None) -> str | None:
    """'20121' -> '201…': the area, enough to recognise, not an address."""
    compact = "".join((postcode or "").split())
    return f"{compact[:3]}…" if len(compact) > 3 else None


def _view(request: Request, parcel: _Parcel, lang: str) -> dict[str, Any]:
    settings = _settings(request)
    row = parcel.shipment
    facts = facts_on_shipment(
        # The page shows initials only: the full name stays out of its context.
        {**vars(row), "recipient_name": None},
        status=Status(row.status),
        reason=row.reason,
        occurred_at=row.status_occurred_at,
    )
    now = datetime.now(UTC)
    context = build_context(facts, settings=settings, locale=lang, now=now)
    until = (
        locked_since(parcel.current, next_attempt=row.next_attempt_date, settings=settings)
        if parcel.current
        else None
    )
    return {
        "token": parcel.link.token,
        "parcel": context,
        "recipient_initials": _masked(row.recipient_name),
        "postcode_prefix": _postcode_prefix(row.recipient_postcode),
        "options": options_for(settings, row.depot),
        "current": parcel.current,
        "current_view": _choice_view(parcel.current, lang, settings) if parcel.current else None,
        "locked": until is not None and now >= until,
        "delivered": row.status in (Status.DELIVERED, Status.RETURNING, Status.CANCELLED),
    }


def _choice_view(booked: Booked, lang: str, settings: Settings) -> dict[str, Any]:
    """A stored choice in the page's language: days in words, places by name."""
    choice = booked.choice
    places = {p.code: p.name for p in [*settings.pickup_points, *settings.depots]}
    return {
        "kind": choice.kind,
        "day_label": format_date(choice.day, "EEEE d MMMM", locale=lang) if choice.day else "",
        "window": choice.window or "",
        "place": places.get(choice.pickup_point or "", choice.pickup_point or ""),
        "neighbour_name": choice.neighbour_name,
        "neighbour_door": choice.neighbour_door,
        "instructions": choice.instructions,
    }


@router.get("/r/{token}", response_class=HTMLResponse)
async def parcel_page(request: Request, token: str) -> Response:
    return _show(request, token, None)


def _form_context(
    request: Request, connection: Connection, parcel: _Parcel, option: RebookOption, lang: str
) -> dict[str, Any]:
    settings = _settings(request)
    now = datetime.now(UTC)
    context: dict[str, Any] = {**_view(request, parcel, lang), "option": option}
    if option == "slot":
        offers = slot_offers(connection, settings=settings, depot=parcel.shipment.depot, now=now)
        context["days"] = _by_day([(o.day, o.window, o.left) for o in offers], lang, settings)
    elif option == "callback":
        windows = settings.rebooking.callback_windows
        days = offered_days(settings, now)
        context["days"] = _by_day([(d, w, 1) for d in days for w in windows], lang, settings)
    elif option == "pickup":
        places = [*settings.pickup_points, *settings.depots]
        context["places"] = [
            {
                "code": p.code,
                "name": p.name,
                "address": p.address,
                "hours": format_hours(p.hours, lang),
            }
            for p in places
        ]
    elif option == "safe_place":
        notices = settings.rebooking.safe_place_notice
        context["notice"] = notices.get(lang) or next(iter(notices.values()), "")
    return context


def _by_day(
    offers: list[tuple[date, str, int]], lang: str, settings: Settings
) -> list[dict[str, Any]]:
    days: dict[date, dict[str, Any]] = {}
    for day, window, left in offers:
        entry = days.setdefault(
            day, {"label": format_date(day, "EEEE d MMMM", locale=lang), "windows": []}
        )
        entry["windows"].append(
            {
                "value": f"{day.isoformat()}|{window}",
                "label": window.replace("-", "–"),
                "full": left <= 0,
            }
        )
    return list(days.values())


def _calendar(parcel: _Parcel, settings: Settings, lang: str) -> Response:
    booked = parcel.current
    if booked is None or booked.choice.kind not in ("slot", "callback"):
        return Response(status_code=404)
    domain = urlsplit(str(settings.company.website)).hostname or "notifier"
    text = build_ics(
        booked,
        settings=settings,
        tracking_number=parcel.shipment.tracking_number,
        uid_domain=domain,
        locale=lang,
    )
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="delivery.ics"'},
    )


@router.get("/r/{token}/{option}", response_class=HTMLResponse)
async def option_form(request: Request, token: str, option: str) -> Response:
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
        if option is None:
            return _render(request, "parcel", lang=lang, **_view(request, parcel, lang))
        if option == "done":
            return _render(request, "done", lang=lang, **_view(request, parcel, lang))
        if option == "booking.ics":
            return _calendar(parcel, settings, lang)
        if option not in options_for(settings, parcel.shipment.depot):
            return _render(request, "parcel", lang=lang, status=404, **_view(request, parcel, lang))
        context = _form_context(request, connection, parcel, option, lang)
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
    now = datetime.now(UTC)
    key = secret_key(settings)
    with read_transaction(request.app.state.engine) as connection:
        parcel = _open(request, connection, token)
        if parcel is None:
            return _bad_link(request, _lang(request, None, settings))
        lang = _lang(request, parcel.shipment.recipient_locale, settings)
        if option not in options_for(settings, parcel.shipment.depot):
            return _render(request, "parcel", lang=lang, status=404, **_view(request, parcel, lang))
        if not csrf_ok(key, request.cookies.get(CSRF_COOKIE), token, form_field(form, "csrf")):
            return _render(request, "expired_form", lang=lang, status=403, token=token)
    choice, errors = parse_choice(option, form)
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
        except ChoiceInvalidError as exc:
            errors = {exc.field if exc.field in ("slot", "callback") else "form": "invalid"}
    with read_transaction(request.app.state.engine) as connection:
        fresh = _open(request, connection, token) or parcel
        context = _form_context(request, connection, fresh, option, lang)
    values = {name: form_field(form, name) or "" for name in TEXT_LIMITS}
    return _render(
        request, "option", lang=lang, status=status, errors=errors, values=values, **context
    )
