"""A booked delivery day and time as an iCalendar file (RFC 5545) for the recipient's calendar."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.config import Settings
from notifier.errors import NotifierError
from notifier.locales import language_for
from notifier.rebooking.choices import Booked
from notifier.rendering.context import format_hours, group_tracking
from notifier.urls import company_website

PRODID = "-//notifier//rebooking//EN"
_LINE_OCTETS = 75  # RFC 5545 section 3.1, CRLF excluded

_SUMMARY = {
    "it": {"slot": "Consegna pacco {tracking}", "callback": "Chiamata per il pacco {tracking}"},
    "en": {"slot": "Parcel delivery {tracking}", "callback": "Call about parcel {tracking}"},
}
_DESCRIPTION = {
    "it": "{company}, fascia {window}. Assistenza: {phone} ({hours}).",
    "en": "{company}, {window}. Customer service: {phone} ({hours}).",
}


class NotInCalendarError(NotifierError, ValueError):
    """Only a booked day and time (a delivery slot or a callback) goes in a calendar."""


def build_ics(
    booking: Booked,
    *,
    settings: Settings,
    tracking_number: str,
    uid_domain: str,
    locale: str | None = None,
) -> str:
    """One VEVENT for a booked slot (or callback), times in UTC.

    Nothing about the recipient goes in: calendars are synced to third parties, so the
    file holds only the parcel's number, the window and how to reach the company. No
    rebooking link either: it opens the booking to whoever holds it.
    """
    choice = booking.choice
    if choice.kind not in ("slot", "callback") or choice.day is None or choice.window is None:
        raise NotInCalendarError()
    language = language_for(locale, settings.company.default_locale)
    tz = ZoneInfo(settings.company.timezone)
    midnight = datetime.combine(choice.day, time(0), tzinfo=tz)
    # Wall-clock offsets from midnight: a window may end at "24:00", which is no time.
    start, end = (midnight + _offset(part) for part in choice.window.split("-"))
    company = settings.company
    window = choice.window.replace("-", "–")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:rebooking-{booking.id}@{uid_domain}",
        f"DTSTAMP:{_utc(booking.created_at)}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        "SUMMARY:"
        + _text(_SUMMARY[language][choice.kind].format(tracking=group_tracking(tracking_number))),
        "DESCRIPTION:"
        + _text(
            _DESCRIPTION[language].format(
                company=company.name,
                window=window,
                phone=company.phone,
                hours=format_hours(company.phone_hours, language),
            )
        ),
        f"URL:{company_website(settings)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)


def _offset(clock: str) -> timedelta:
    hours, minutes = clock.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))


def _utc(moment: datetime) -> str:
    """A DATE-TIME in UTC form (RFC 5545 section 3.3.5, form #2)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """A TEXT value (section 3.3.11): backslash first, then ; , and newlines."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets go on as CRLF + space (section 3.1), never inside a
    UTF-8 character."""
    parts: list[str] = []
    current, used = "", 0
    for char in line:
        size = len(char.encode())
        # A continuation line's leading space counts towards its 75 octets.
        if used + size > _LINE_OCTETS:
            parts.append(current)
            current, used = " ", 1
        current += char
        used += size
    parts.append(current)
    return "\r\n".join(parts)
