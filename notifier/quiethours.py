"""When a message may go out: quiet hours in the recipient's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezones


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


@lru_cache(maxsize=4096)
def recipient_timezone(phone_e164: str | None, default: str) -> ZoneInfo:
    """The phone number's time zone when all its candidate zones share one clock.

    A British number gets Europe/London even for an Italian courier; a US number,
    spread over several zones, keeps the company's.
    """
    if phone_e164:
        try:
            number = phonenumbers.parse(phone_e164, None)
        except phonenumbers.NumberParseException:
            return ZoneInfo(default)
        zones = [z for z in phone_timezones.time_zones_for_number(number) if z != _UNKNOWN]
        if zones and _same_clock(zones):
            return ZoneInfo(zones[0])
    return ZoneInfo(default)


_UNKNOWN = phone_timezones.UNKNOWN_TIMEZONE
# A winter and a summer instant: zones that agree on both keep the same clock all year.
_PROBES = (datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC))


def _same_clock(zones: list[str]) -> bool:
    """Italy's numbers map to Rome and the Vatican: different names, one clock."""
    offsets = {tuple(probe.astimezone(ZoneInfo(z)).utcoffset() for probe in _PROBES) for z in zones}
    return len(offsets) == 1
