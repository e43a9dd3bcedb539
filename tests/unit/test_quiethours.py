"""Quiet hours: messages wait for the morning in the recipient's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from notifier.notify.quiethours import is_quiet, next_allowed, recipient_timezone

ROME = ZoneInfo("Europe/Rome")
NIGHT = (time(21, 0), time(8, 0))


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (rome(2026, 11, 22, 23, 30), rome(2026, 11, 23, 8, 0)),
        (rome(2026, 11, 22, 21, 0), rome(2026, 11, 23, 8, 0)),
        (rome(2026, 11, 22, 3, 15), rome(2026, 11, 22, 8, 0)),
        (rome(2026, 11, 22, 8, 0), rome(2026, 11, 22, 8, 0)),
        (rome(2026, 11, 22, 20, 59), rome(2026, 11, 22, 20, 59)),
        # The night the clocks go forward, 08:00 local is 06:00 UTC, not 07:00.
        (rome(2027, 3, 27, 22, 0), datetime(2027, 3, 28, 6, 0, tzinfo=UTC)),
    ],
    ids=["late evening", "at start", "small hours", "at end", "just before", "dst spring"],
)
def test_messages_in_quiet_hours_wait_for_the_morning(moment: datetime, expected: datetime) -> None:
    assert next_allowed(moment.astimezone(UTC), tz=ROME, start=NIGHT[0], end=NIGHT[1]) == expected


def test_quiet_hours_within_one_day_and_none() -> None:
    assert is_quiet(time(13, 30), time(13, 0), time(14, 0))
    assert not is_quiet(time(14, 0), time(13, 0), time(14, 0))
    assert not is_quiet(time(3, 0), time(0, 0), time(0, 0))


def clock(zone: ZoneInfo) -> tuple[object, ...]:
    return tuple(datetime(2026, m, 15, 12, tzinfo=UTC).astimezone(zone).utcoffset() for m in (1, 7))


def test_the_time_zone_follows_the_phone_when_its_country_has_one_clock() -> None:
    assert clock(recipient_timezone("+393331234567", "Asia/Tokyo")) == clock(ROME)
    london = ZoneInfo("Europe/London")
    assert clock(recipient_timezone("+447911123456", "Europe/Rome")) == clock(london)
    assert recipient_timezone("+13125550123", "Europe/Rome") == ZoneInfo("America/Chicago")
    # An Australian mobile could be on any of several clocks: the company's stands.
    assert recipient_timezone("+61412345678", "Europe/Rome") == ROME
    assert recipient_timezone(None, "Europe/Rome") == ROME
    assert recipient_timezone("not a number", "Europe/Rome") == ROME
