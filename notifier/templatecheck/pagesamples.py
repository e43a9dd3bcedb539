"""Rebooking pages as `notifier serve` renders them, for sample parcels: each page's full context.

The contexts come from the views' own code (page_view, form_context); the keys every
page gets besides are those of web/rebook.py's _render, which needs a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert

from notifier.config import Settings
from notifier.db.engine import make_engine
from notifier.db.tables import SLOTS
from notifier.locales import LANGUAGE_NAMES, SHIPPED_LANGUAGES
from notifier.rebooking.choices import offered_days, options_for, slots_for
from notifier.rebooking.links import Link
from notifier.rebooking.store import Parcel
from notifier.rendering.context import format_hours
from notifier.shipments import ShipmentRecord
from notifier.templatecheck.samples import (
    ATTEMPT_DAY,
    HELD_UNTIL,
    NEXT_ATTEMPT,
    SHORT_CODE,
    TOKEN,
    base_facts,
    booked,
    choices,
    sample_shipment,
)
from notifier.urls import rebooking_link
from notifier.vocabulary import Reason, RebookOption, Status
from notifier.web.rebook_forms import TEXT_LIMITS, parse_choice
from notifier.web.rebook_views import form_context, page_view

PAGES = ("parcel", "done", "option", "code", "bad_link", "expired_form", "too_many")


def _at(settings: Settings, day_offset: int, hour: int) -> datetime:
    tz = ZoneInfo(settings.company.timezone)
    return datetime.combine(ATTEMPT_DAY + timedelta(days=day_offset), time(hour, 0), tzinfo=tz)


def _shipment(settings: Settings, **changes: Any) -> ShipmentRecord:
    facts = replace(
        base_facts(settings, status=Status.DELIVERY_ATTEMPTED, reason=Reason.RECIPIENT_ABSENT),
        occurred_at=_at(settings, 0, 10),
        next_attempt_date=NEXT_ATTEMPT,
        next_attempt_window="14:00-18:00",
    )
    return sample_shipment(facts, **changes)


def parcels(settings: Settings) -> Iterator[tuple[str, Parcel, datetime]]:
    """(what, parcel, now): open, each choice made, locked, held, delivered, nothing known."""
    link = Link(1, 1, 1, TOKEN, SHORT_CODE, rebooking_link(settings, TOKEN), _at(settings, 14, 0))
    open_now, locked_now = _at(settings, 0, 11), _at(settings, 0, 19)
    shipment = _shipment(settings)
    yield "open, no choice yet", Parcel(link, shipment, None), open_now
    for what, choice in choices(settings):
        yield (
            f"chosen: {what}",
            Parcel(link, shipment, booked(settings, choice, now=open_now)),
            open_now,
        )
    yield "locked, no choice", Parcel(link, shipment, None), locked_now
    slot = next(c for _, c in choices(settings) if c.kind == RebookOption.SLOT)
    yield (
        "locked, slot chosen",
        Parcel(link, shipment, booked(settings, slot, now=open_now)),
        locked_now,
    )
    place = (settings.pickup_points or settings.depots or [None])[0]
    held = _shipment(
        settings,
        status=Status.AVAILABLE_FOR_PICKUP,
        next_attempt_date=None,
        next_attempt_window=None,
        pickup_point=place.code if place else None,
        held_until=HELD_UNTIL,
    )
    yield "held at a pickup point", Parcel(link, held, None), open_now
    delivered = _shipment(settings, status=Status.DELIVERED, reason=None)
    yield "delivered", Parcel(link, delivered, None), open_now
    unknown = _shipment(
        settings,
        reason=None,
        depot=None,
        next_attempt_date=None,
        next_attempt_window=None,
        recipient_name=None,
        recipient_postcode=None,
        sender_name=None,
    )
    yield "nothing known", Parcel(link, unknown, None), open_now


def page_context(settings: Settings, name: str, *, lang: str, **context: Any) -> dict[str, Any]:
    """What web/rebook.py's _render adds to every page's own context."""
    form = {"csrf": "c" * 43, "submission": "s" * 22} if name in ("code", "option") else {}
    return {
        "lang": lang,
        "other_langs": [(code, LANGUAGE_NAMES[code]) for code in SHIPPED_LANGUAGES if code != lang],
        "path": context.pop("path", f"/r/{TOKEN}"),
        "company": settings.company,
        "company_hours": format_hours(settings.company.phone_hours, lang),
        **form,
        **context,
    }


def page_samples(settings: Settings, lang: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(page, what, context) for every page a recipient can meet."""
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as connection:
            _full_slot(connection, settings)
            for what, parcel, now in parcels(settings):
                view = page_view(parcel, lang, settings, now)
                yield "parcel", what, page_context(settings, "parcel", lang=lang, **view)
                if parcel.current is not None:
                    yield "done", what, page_context(settings, "done", lang=lang, **view)
                if what in ("open, no choice yet", "locked, no choice", "nothing known"):
                    yield from _forms(connection, settings, parcel, lang, now, what)
    finally:
        engine.dispose()
    yield "code", "empty", page_context(settings, "code", lang=lang, path="/r")
    errors = {"errors": {"code": "not_found"}, "typed": "K7QM 3XR0"}
    yield "code", "code not found", page_context(settings, "code", lang=lang, path="/r", **errors)
    yield "bad_link", "any", page_context(settings, "bad_link", lang=lang, path="/r")
    yield "expired_form", "code form", page_context(settings, "expired_form", lang=lang)
    yield (
        "expired_form",
        "option form",
        page_context(settings, "expired_form", lang=lang, token=TOKEN),
    )
    yield "too_many", "any", page_context(settings, "too_many", lang=lang, wait_minutes=10)


def _forms(
    connection: Connection, settings: Settings, parcel: Parcel, lang: str, now: datetime, what: str
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    too_long = {name: "x" * (limit + 1) for name, limit in TEXT_LIMITS.items()}
    for option in options_for(settings, parcel.shipment.depot):
        context = form_context(connection, parcel, option, lang, settings, now)
        yield "option", f"{option}, {what}", page_context(settings, "option", lang=lang, **context)
        failures = [
            parse_choice(option, {})[1],
            parse_choice(option, too_long)[1],
            {"form": "locked"},
            {"form": "invalid"},
            {"slot": "full"} if option == RebookOption.SLOT else {option.value: "invalid"},
        ]
        values = {name: too_long[name][:20] for name in TEXT_LIMITS}
        for errors in failures:
            said = ", ".join(f"{k}: {v}" for k, v in errors.items())
            page = page_context(
                settings, "option", lang=lang, errors=errors, values=values, **context
            )
            yield "option", f"{option}, {what}, errors {said}", page


def _full_slot(connection: Connection, settings: Settings) -> None:
    """One full window on the first day offered, so a form shows one."""
    SLOTS.create(connection)
    days = offered_days(settings, _at(settings, 0, 11))
    depot = settings.depots[0].code if settings.depots else ""
    slots = slots_for(settings, depot or None)
    if days and slots:
        capacity = slots[0].capacity
        row = {"depot": depot, "day": days[0], "window": slots[0].window}
        connection.execute(insert(SLOTS).values(**row, capacity=capacity, booked=capacity))
