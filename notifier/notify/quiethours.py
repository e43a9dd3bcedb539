"""When a message may go out: quiet hours in the recipient's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezones

from notifier.config import Settings


def is_quiet(local: time, start: time, end: time) -> bool:
    if start == end:
        return False  # no quiet hours
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight


def next_allowed(moment: datetime, *, tz: ZoneInfo, start: time, end: time) -> datetime:
    """`moment` itself outside quiet hours, else the end of the quiet period (UTC)."""
    local = moment.astimezone(tz)
    if not is_quiet(local.time(), start, end):
        return moment
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)  # evening: wait for tomorrow morning
    # Wall-clock end time on that day; zoneinfo resolves DST gaps and folds.
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def may_hear_at(now: datetime, *, phone: str | None, settings: Settings) -> datetime:
    """When a message to a recipient may go: now, or the end of their quiet hours (in
    their number's time zone, else the company's)."""
    quiet = settings.quiet_hours
    tz = recipient_timezone(phone, settings.company.timezone)
    return next_allowed(now, tz=tz, start=quiet.start, end=quiet.end)


def recipient_timezone(phone_e164: str | None, default: str) -> ZoneInfo:
    """The phone number's time zone when all its candidate zones share one clock.

    A British number gets Europe/London even for an Italian courier; an Australian
    mobile, which could be on any of several clocks, keeps the company's.
    """
    if not phone_e164:
        return ZoneInfo(default)
    country = _country_code(phone_e164)
    # Most countries keep one clock: then a lookup per country does, not a parse per
    # number (this runs for every message enqueued). Only the others need the number.
    zone = _country_zone(country) if country is not None else None
    return zone if zone is not None else _number_zone(phone_e164, default)


def _country_code(phone_e164: str) -> int | None:
    # Country calling codes are prefix-free and one to three digits long (ITU-T E.164).
    for length in (1, 2, 3):
        digits = phone_e164[1 : 1 + length]
        if digits.isdigit() and int(digits) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(digits)
    return None


@lru_cache(maxsize=512)
def _country_zone(country: int) -> ZoneInfo | None:
    number = phonenumbers.PhoneNumber(country_code=country, national_number=0)
    zones = [
        z for z in phone_timezones._country_level_time_zones_for_number(number) if z != _UNKNOWN
    ]
    return ZoneInfo(zones[0]) if zones and _same_clock(tuple(zones)) else None


@lru_cache(maxsize=8192)
def _number_zone(phone_e164: str, default: str) -> ZoneInfo:
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return ZoneInfo(default)
    zones = [z for z in phone_timezones.time_zones_for_number(number) if z != _UNKNOWN]
    return ZoneInfo(zones[0]) if zones and _same_clock(tuple(zones)) else ZoneInfo(default)


_UNKNOWN = phone_timezones.UNKNOWN_TIMEZONE
# A winter and a summer instant: zones that agree on both keep the same clock all year.
_PROBES = (datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC))


@lru_cache(maxsize=1024)
def _same_clock(zones: tuple[str, ...]) -> bool:
    """Italy's numbers map to Rome and the Vatican: different names, one clock."""
    offsets = {tuple(probe.astimezone(ZoneInfo(z)).utcoffset() for probe in _PROBES) for z in zones}
    return len(offsets) == 1
