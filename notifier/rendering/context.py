"""What a message says: the facts and the template context, in the recipient's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import format_time, get_day_names

from notifier.config import Settings
from notifier.config.settings import OpeningHours, Place
from notifier.locales import day_long, day_short
from notifier.rebooking.choices import (
    Booked,
    Choice,
    attempt_day,
    choose_by,
    lock_moment,
    locked_since,
)
from notifier.rebooking.promises import Apology, Promised
from notifier.rebooking.sms_menu import menu_options, open_options
from notifier.shipments import ShipmentRecord
from notifier.untrusted import inert
from notifier.urls import company_website, rebooking_entry
from notifier.vocabulary import TERMINAL_STATUSES, Reason, RebookOption, Status

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

REASONS: dict[str, dict[Reason, str]] = {
    "it": {
        Reason.RECIPIENT_ABSENT: "non c'era nessuno a ricevere il pacco",
        Reason.ADDRESS_INACCESSIBLE: "non siamo riusciti ad accedere all'indirizzo",
        Reason.BUSINESS_CLOSED: "l'attività era chiusa",
        Reason.REFUSED: "il pacco è stato rifiutato",
        Reason.ADDRESS_INCORRECT: "l'indirizzo risulta incompleto o errato",
        Reason.SIGNATURE_REQUIRED: "serviva una firma e non c'era nessuno per firmare",
        Reason.PAYMENT_REQUIRED: "il pacco è in contrassegno e va pagato alla consegna",
        Reason.DAMAGED: "il pacco è risultato danneggiato",
        Reason.DELAYED: "il pacco ha subito un ritardo",
        Reason.CUSTOMS: "il pacco è fermo in dogana",
        Reason.WEATHER: "il maltempo ha impedito la consegna",
        Reason.OTHER: "non è stato possibile completare la consegna",
    },
    "en": {
        Reason.RECIPIENT_ABSENT: "nobody was in to receive the parcel",
        Reason.ADDRESS_INACCESSIBLE: "we could not get to the address",
        Reason.BUSINESS_CLOSED: "the business was closed",
        Reason.REFUSED: "the parcel was refused",
        Reason.ADDRESS_INCORRECT: "the address is incomplete or wrong",
        Reason.SIGNATURE_REQUIRED: "a signature was needed and nobody was in to sign",
        Reason.PAYMENT_REQUIRED: "the parcel is cash on delivery and must be paid for",
        Reason.DAMAGED: "the parcel was found damaged",
        Reason.DELAYED: "the parcel has been delayed",
        Reason.CUSTOMS: "the parcel is held at customs",
        Reason.WEATHER: "bad weather stopped the delivery",
        Reason.OTHER: "the delivery could not be completed",
    },
}


@dataclass(frozen=True, slots=True)
class ParcelFacts:
    """What a message talks about: the event it answers, on the shipment as it is now."""

    tracking_number: str
    carrier: str
    status: Status
    reason: Reason | None
    occurred_at: datetime  # aware
    recipient_name: str | None = None
    sender_name: str | None = None
    depot: str | None = None  # code
    next_attempt_date: date | None = None
    next_attempt_window: str | None = None  # "10:00-14:00"
    held_until: date | None = None
    pickup_point: str | None = None  # code
    estimated_delivery: date | None = None
    rebooking_url: str | None = None
    short_code: str | None = None
    feedback_url: str | None = None  # the DELIVERED message's rating link, when asked


def facts_on_shipment(
    shipment: ShipmentRecord,
    *,
    status: Status,
    reason: Reason | str | None,
    occurred_at: datetime,
    rebooking_url: str | None = None,
    short_code: str | None = None,
    feedback_url: str | None = None,
    with_name: bool = True,
) -> ParcelFacts:
    """The facts of one status, on the shipment as it is now.

    The shipment's current facts win: a hold or pickup point decided since the event is
    what the recipient needs to know. Without `with_name`, the recipient's name is left
    out (a public page shows initials only).
    """
    return ParcelFacts(
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        status=status,
        reason=Reason(reason) if reason else None,
        occurred_at=occurred_at,
        recipient_name=shipment.recipient_name if with_name else None,
        sender_name=shipment.sender_name,
        depot=shipment.depot,
        next_attempt_date=shipment.next_attempt_date,
        next_attempt_window=shipment.next_attempt_window,
        held_until=shipment.held_until,
        pickup_point=shipment.pickup_point,
        estimated_delivery=shipment.estimated_delivery,
        rebooking_url=rebooking_url,
        short_code=short_code,
        feedback_url=feedback_url,
    )


def recipient_details(shipment: ShipmentRecord, *, phone: str | None) -> dict[str, Any]:
    """How the depot finds and reaches the recipient, for its own messages (a dispute to
    act on): never for a page, slip or message anyone else may read. Inert, like names."""
    address = (inert(line) for line in shipment.recipient_address_lines)
    return {
        "name": inert(shipment.recipient_name),
        "phone": readable_phone(phone),
        "address": [line for line in address if line],
        "postcode": inert(shipment.recipient_postcode),
        "route_stop": shipment.route_stop,
    }


def readable_phone(phone: str | None) -> str | None:
    """'+393331234567' -> '+39 333 123 4567': read aloud and dialled by a person."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def group_tracking(number: str) -> str:
    """Groups of four, as people read codes aloud, a lone last character kept with the
    group before it: RP12 3456 789IT (an S10 number's country split as "789I T" reads
    as a stray letter)."""
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return " ".join(groups)


def build_context(
    facts: ParcelFacts,
    *,
    settings: Settings,
    locale: str,
    now: datetime,
    booking: Booked | None = None,
    promise: Promised | None = None,
) -> dict[str, Any]:
    """Everything a template may use; dates already in the recipient's words. Pure.

    `booking` is the recipient's rebooking choice that a confirmation talks about;
    `promise` the broken promise an apology or a depot's alert talks about.
    """
    tz = ZoneInfo(settings.company.timezone)
    local = facts.occurred_at.astimezone(tz)
    # A next attempt whose day is over is history, not news: never announce it.
    if facts.next_attempt_date is not None and facts.next_attempt_date < now.astimezone(tz).date():
        facts = replace(facts, next_attempt_date=None, next_attempt_window=None)
    choose_by = _choose_by(facts, settings, now)
    can_choose = (
        facts.rebooking_url is not None
        and facts.status not in TERMINAL_STATUSES
        and lock_moment(None, next_attempt=_attempt_day(facts), settings=settings, now=now) is None
    )
    return {
        "company": company_context(settings, locale),
        "locale": locale,
        "tracking_number": facts.tracking_number,
        "tracking_grouped": group_tracking(facts.tracking_number),
        # Names come from the carrier's feed: inert text, never a line or a link of its own.
        "recipient_name": inert(facts.recipient_name),
        "sender_name": inert(facts.sender_name),
        "status": str(facts.status),
        "event_time": format_time(local, "HH:mm", locale=locale),
        "event_day": day_long(local.date(), locale),
        "event_day_short": day_short(local.date(), locale),
        "today": local.date() == now.astimezone(tz).date(),
        "reason": str(facts.reason) if facts.reason else None,
        "reason_text": REASONS[locale].get(facts.reason) if facts.reason else None,
        "next_attempt": _next_attempt(facts, locale, day_long),
        "held_until": day_long(facts.held_until, locale) if facts.held_until else None,
        "estimated_delivery": (
            day_long(facts.estimated_delivery, locale) if facts.estimated_delivery else None
        ),
        # Short forms for SMS, where every character counts: "mar 24/11".
        "next_attempt_short": _next_attempt(facts, locale, day_short),
        "held_until_short": day_short(facts.held_until, locale) if facts.held_until else None,
        "estimated_delivery_short": (
            day_short(facts.estimated_delivery, locale) if facts.estimated_delivery else None
        ),
        "depot": _place(_find(settings.depots, facts.depot), locale),
        "pickup_point": _place(_find(settings.pickup_points, facts.pickup_point), locale),
        "waiting_at": _place(_waiting_at(facts, settings), locale),
        "rebooking_url": facts.rebooking_url,
        # Where a short code is typed by hand: the rebooking base without a token.
        "rebooking_entry": rebooking_entry(settings),
        "short_code": facts.short_code,
        # How the delivery went, 1 to 5: only on DELIVERED news, only when feedback is on.
        "feedback_url": facts.feedback_url,
        # Until when a choice still counts, while it can be made: "lunedì 30 novembre,
        # 18:00" (the evening before the next attempt) or a held parcel's last day.
        # Whether a message may invite a choice now: there is a link, the parcel is not
        # done, and the depot's list for the next attempt is not printed yet.
        "can_choose": can_choose,
        "choose_by": _say_moment(choose_by, locale, day_long, tz),
        "choose_by_short": _say_moment(choose_by, locale, day_short, tz),
        "booking": _booking(booking, facts, settings, locale) if booking else None,
        "promise": _promise(promise, facts, tz, locale) if promise else None,
        # What a reply's digit books after a missed delivery (rebooking/sms_menu.py).
        "reply_options": _reply_options(facts, settings, locale, now) if can_choose else [],
    }


def company_context(settings: Settings, locale: str) -> dict[str, Any]:
    """`company` as templates see it, its hours in `locale`."""
    company = settings.company
    return {
        "name": company.name,
        "phone": company.phone,
        "phone_hours": format_hours(company.phone_hours, locale),
        "email": company.email,
        "website": company_website(settings),
    }


def _reply_options(
    facts: ParcelFacts, settings: Settings, locale: str, now: datetime
) -> list[dict[str, Any]]:
    if facts.status is not Status.DELIVERY_ATTEMPTED:
        return []
    options = menu_options(
        settings, depot=facts.depot, pickup_point=facts.pickup_point, attempted_at=facts.occurred_at
    )
    if not options:
        return []  # ops have not turned the options SMS on: nothing to work out
    found = []
    for option in open_options(
        options, settings=settings, next_attempt=_attempt_day(facts), now=now
    ):
        choice = choice_view(option.choice, settings, locale)
        found.append({"digit": option.digit, **choice})
    return found


def choice_view(choice: Choice, settings: Settings, locale: str) -> dict[str, Any]:
    """A choice's kind, day, window and place in the recipient's words."""
    code = choice.pickup_point
    place = _find(settings.pickup_points, code) or _find(settings.depots, code)
    return {
        "kind": str(choice.kind),
        "day": day_long(choice.day, locale) if choice.day else None,
        "day_short": day_short(choice.day, locale) if choice.day else None,
        "window": choice.window.replace("-", "–") if choice.window else None,
        "place": _place(place, locale),
    }


def _choose_by(facts: ParcelFacts, settings: Settings, now: datetime) -> date | datetime | None:
    """The moment choosing closes (a day for a held parcel's last day), while it is ahead."""
    if facts.status in TERMINAL_STATUSES or facts.rebooking_url is None:
        return None
    planned = _attempt_day(facts)
    if planned is not None:
        return choose_by(None, next_attempt=planned, settings=settings, now=now)
    if (
        facts.held_until is not None
        and facts.held_until >= now.astimezone(ZoneInfo(settings.company.timezone)).date()
    ):
        return facts.held_until
    return None


def _attempt_day(facts: ParcelFacts) -> date | None:
    return attempt_day(facts.status, facts.next_attempt_date, facts.estimated_delivery)


def _say_moment(
    moment: date | datetime | None, locale: str, say: Callable[[date, str], str], tz: ZoneInfo
) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        return say(moment, locale)
    local = moment.astimezone(tz)
    return f"{say(local.date(), locale)}, {format_time(local, 'HH:mm', locale=locale)}"


def _booking(booked: Booked, facts: ParcelFacts, settings: Settings, locale: str) -> dict[str, Any]:
    choice = booked.choice
    tz = ZoneInfo(settings.company.timezone)
    until = locked_since(booked, next_attempt=_attempt_day(facts), settings=settings)
    due = booked.due_at.astimezone(tz) if booked.due_at else None
    notice = settings.rebooking.safe_place_notice.get(locale)
    return {
        **choice_view(choice, settings, locale),
        "kind": choice.kind,
        # Typed by the recipient on a public page.
        "neighbour_name": inert(choice.neighbour_name),
        "neighbour_door": inert(choice.neighbour_door),
        "safe_place": inert(choice.instructions)
        if choice.kind == RebookOption.SAFE_PLACE
        else None,
        "comment": inert(choice.instructions) if choice.kind == RebookOption.DISPUTE else None,
        "safe_place_notice": notice if choice.kind == RebookOption.SAFE_PLACE else None,
        "callback_due": format_time(due, "HH:mm", locale=locale) if due else None,
        # After this moment the choice is final: "lunedì 23 novembre alle 18:00".
        "change_until_day": day_long(until.astimezone(tz).date(), locale) if until else None,
        "change_until_time": (
            format_time(until.astimezone(tz), "HH:mm", locale=locale) if until else None
        ),
        "manage_url": facts.rebooking_url,
    }


def _promise(promise: Promised, facts: ParcelFacts, tz: ZoneInfo, locale: str) -> dict[str, Any]:
    """What was promised in company time: its day, and its hours unless it was the whole
    day ("mer 2/12, 09:00–12:00"; a window ending at midnight ends at "24:00"); what
    happens next (a next attempt announced for a later day); whether the recipient knows."""
    start, end = promise.window.start.astimezone(tz), promise.window.end.astimezone(tz)
    whole_day = start.time() == time(0) and end.time() == time(0) and end > start
    hours = None
    if not whole_day:
        last = "24:00" if end.time() == time(0) else format_time(end, "HH:mm", locale=locale)
        hours = f"{format_time(start, 'HH:mm', locale=locale)}–{last}"
    day_said = day_long(start.date(), locale)
    short = day_short(start.date(), locale)
    attempt = facts.next_attempt_date
    later = facts if attempt is not None and attempt > start.date() else None
    return {
        "kind": str(promise.kind),
        "day": day_said,
        "day_short": short,
        "hours": hours,
        "when": f"{day_said}, {hours}" if hours else day_said,
        "when_short": f"{short}, {hours}" if hours else short,
        # The broken window is no news: only an attempt announced after it is.
        "then_next_attempt": later is not None,
        "next_attempt": _next_attempt(later, locale, day_long) if later else None,
        "next_attempt_short": _next_attempt(later, locale, day_short) if later else None,
        **_told(promise.apology, tz, locale),
    }


def _told(apology: Apology | None, tz: ZoneInfo, locale: str) -> dict[str, Any]:
    """For the depot: told (by sms or email), waiting (until when), or not told."""
    if apology is None:
        return {"told": None, "told_by": None, "told_at": None}
    return {
        "told": str(apology.told),
        "told_by": str(apology.channel) if apology.channel else None,
        "told_at": _say_moment(apology.due_at, locale, day_long, tz),
    }


def _next_attempt(facts: ParcelFacts, locale: str, say: Callable[[date, str], str]) -> str | None:
    if facts.next_attempt_date is None:
        return None
    day = say(facts.next_attempt_date, locale)
    if facts.next_attempt_window:
        return f"{day}, {facts.next_attempt_window.replace('-', '–')}"
    return day


def _find(places: list[Any], code: str | None) -> Place | None:
    return next((p for p in places if p.code == code), None) if code else None


def _waiting_at(facts: ParcelFacts, settings: Settings) -> Place | None:
    """Where a held parcel waits: its pickup point, else its depot. A pickup point the
    configuration does not know names no place: the depot would be a wrong address."""
    if facts.pickup_point:
        return _find(settings.pickup_points, facts.pickup_point) or _find(
            settings.depots, facts.pickup_point
        )
    return _find(settings.depots, facts.depot)


def _place(place: Place | None, locale: str) -> dict[str, Any] | None:
    if place is None:
        return None
    return {
        "name": place.name,
        "address": place.address,
        "phone": place.phone,
        "hours": format_hours(place.hours, locale),
    }


@lru_cache(maxsize=256)
def format_hours(hours: OpeningHours, locale: str) -> str | None:
    """'lun–ven 08:00–20:00, sab 09:00–13:00': equal neighbouring days share one entry."""
    names = get_day_names("abbreviated", locale=locale)
    runs: list[tuple[int, int, str]] = []
    for index, day in enumerate(_DAYS):
        value = getattr(hours, day)
        if value is None or value == "closed":
            continue
        if runs and runs[-1][1] == index - 1 and runs[-1][2] == value:
            runs[-1] = (runs[-1][0], index, value)
        else:
            runs.append((index, index, value))
    if not runs:
        return None
    parts = []
    for first, last, value in runs:
        days = names[first] if first == last else f"{names[first]}–{names[last]}"
        parts.append(f"{days} {value.replace('-', '–')}")
    return ", ".join(parts)
