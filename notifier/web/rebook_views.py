"""What the rebooking pages show: a parcel, its current choice and each option's form, in
the page's language, with nothing personal beyond initials and a postcode's area."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_time
from fastapi.responses import Response
from sqlalchemy import Connection

from notifier.config import Settings
from notifier.locales import day_long
from notifier.rebooking.choices import (
    Booked,
    attempt_day,
    choose_by,
    lock_moment,
    offered_days,
    options_for,
)
from notifier.rebooking.store import Parcel, slot_offers
from notifier.rendering.context import build_context, facts_on_shipment, format_hours
from notifier.rendering.ics import build_ics
from notifier.shipments import ShipmentRecord
from notifier.vocabulary import TERMINAL_STATUSES, RebookOption


def masked(name: str | None) -> str | None:
    """'Giovanni Bianchi' -> 'G. B.': enough to tell it is yours, not to learn a name."""
    if not name:
        return None
    return " ".join(f"{part[0]}." for part in name.split() if part[:1].isalpha()) or None


def postcode_prefix(postcode: str | None) -> str | None:
    """'20121' -> '201…': the area, enough to recognise, not an address."""
    compact = "".join((postcode or "").split())
    return f"{compact[:3]}…" if len(compact) > 3 else None


def _attempt_day(row: ShipmentRecord) -> date | None:
    return attempt_day(row.status, row.next_attempt_date, row.estimated_delivery)


def parcel_options(parcel: Parcel, settings: Settings) -> list[RebookOption]:
    """What this parcel's page offers: its depot's options, a callback only with a number
    to call (a confirmation must not promise "the number you gave us" to nobody)."""
    offered = options_for(settings, parcel.shipment.depot)
    return [o for o in offered if o != RebookOption.CALLBACK or parcel.has_phone]


def page_view(parcel: Parcel, lang: str, settings: Settings, now: datetime) -> dict[str, Any]:
    """The parcel page's context: where the parcel is now, the attempt the link stands for,
    the recipient's current choice, and whether (and until when) a choice can be made."""
    row = parcel.shipment
    # The page shows initials only: the full name stays out of its context.
    facts = facts_on_shipment(
        row,
        status=row.status,
        reason=row.reason,
        occurred_at=row.status_occurred_at,
        with_name=False,
    )
    context = build_context(facts, settings=settings, locale=lang, now=now)
    attempt = None
    if parcel.attempt is not None:
        attempted = facts_on_shipment(
            row,
            status=parcel.attempt.status,
            reason=parcel.attempt.reason,
            occurred_at=parcel.attempt.occurred_at,
            with_name=False,
        )
        attempt = build_context(attempted, settings=settings, locale=lang, now=now)
    closed = lock_moment(parcel.current, next_attempt=_attempt_day(row), settings=settings, now=now)
    local = closed.astimezone(ZoneInfo(settings.company.timezone)) if closed else None
    done = row.status in TERMINAL_STATUSES
    return {
        "token": parcel.link.token,
        "parcel": context,
        "state": str(row.status),
        "attempt": attempt,
        "recipient_initials": masked(row.recipient_name),
        "postcode_prefix": postcode_prefix(row.recipient_postcode),
        "options": parcel_options(parcel, settings),
        "current": parcel.current,
        "current_view": _choice_view(parcel.current, lang, settings) if parcel.current else None,
        "locked": closed is not None,
        # When choices closed: "lunedì 30 novembre" "18:00".
        "lock_day": day_long(local.date(), lang) if local else None,
        "lock_time": format_time(local, "HH:mm", locale=lang) if local else None,
        "delivered": done,
        # Until when a choice can still be made or changed, while it can.
        "choose_by": None if done or closed else _choose_by(parcel, lang, settings, now),
    }


def _choose_by(
    parcel: Parcel, lang: str, settings: Settings, now: datetime
) -> dict[str, str | None] | None:
    """The day and time ("lunedì 30 novembre", "18:00") while a choice can still be made;
    for a held parcel with no attempt planned, its last day (no time)."""
    row = parcel.shipment
    tz = ZoneInfo(settings.company.timezone)
    until = choose_by(parcel.current, next_attempt=_attempt_day(row), settings=settings, now=now)
    if until is not None:
        local = until.astimezone(tz)
        return {
            "day": day_long(local.date(), lang),
            "time": format_time(local, "HH:mm", locale=lang),
        }
    if parcel.current is None and row.held_until and row.held_until >= now.astimezone(tz).date():
        return {"day": day_long(row.held_until, lang), "time": None}
    return None


def _choice_view(booked: Booked, lang: str, settings: Settings) -> dict[str, Any]:
    """A stored choice in the page's language: days in words, places by name."""
    choice = booked.choice
    places = {p.code: p.name for p in [*settings.pickup_points, *settings.depots]}
    return {
        "kind": choice.kind,
        "day_label": day_long(choice.day, lang) if choice.day else "",
        "window": choice.window or "",
        "place": places.get(choice.pickup_point or "", choice.pickup_point or ""),
        "neighbour_name": choice.neighbour_name,
        "neighbour_door": choice.neighbour_door,
        "instructions": choice.instructions,
    }


def form_context(
    connection: Connection,
    parcel: Parcel,
    option: RebookOption,
    lang: str,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """One option's form: the page's context and what the option offers."""
    context: dict[str, Any] = {**page_view(parcel, lang, settings, now), "option": option}
    if option == RebookOption.SLOT:
        offers = slot_offers(connection, settings=settings, depot=parcel.shipment.depot, now=now)
        context["days"] = _by_day([(o.day, o.window, o.left) for o in offers], lang)
    elif option == RebookOption.CALLBACK:
        windows = settings.rebooking.callback_windows
        days = offered_days(settings, now)
        context["days"] = _by_day([(d, w, 1) for d in days for w in windows], lang)
    elif option == RebookOption.PICKUP:
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
    elif option == RebookOption.SAFE_PLACE:
        notices = settings.rebooking.safe_place_notice
        context["notice"] = notices.get(lang) or next(iter(notices.values()), "")
    return context


def _by_day(offers: list[tuple[date, str, int]], lang: str) -> list[dict[str, Any]]:
    days: dict[date, dict[str, Any]] = {}
    for day, window, left in offers:
        entry = days.setdefault(day, {"label": day_long(day, lang), "windows": []})
        entry["windows"].append(
            {
                "value": f"{day.isoformat()}|{window}",
                "label": window.replace("-", "–"),
                "full": left <= 0,
            }
        )
    return list(days.values())


def calendar_file(parcel: Parcel, settings: Settings, lang: str) -> Response:
    """The booked slot or callback as an .ics file; 404 for any other choice."""
    booked = parcel.current
    if booked is None or booked.choice.kind not in (RebookOption.SLOT, RebookOption.CALLBACK):
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
