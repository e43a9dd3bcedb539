"""The .ics of a booked slot, read back line by line: RFC 5545 folding, escaping and times."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from notifier.config import Settings
from notifier.rebooking.choices import Booked, Choice
from notifier.rendering.ics import NotInCalendarError, build_ics
from tests.conftest import BASE_CONFIG, make_settings

CREATED = datetime(2026, 11, 23, 9, 12, 30, tzinfo=UTC)
SLOT = Booked(
    id=42,
    choice=Choice(kind="slot", day=date(2026, 11, 24), window="09:00-13:00"),
    created_at=CREATED,
    due_at=None,
)
# Every character TEXT must escape, and enough multi-byte text to need folding.
AWKWARD_NAME = "Rapido; Consegne, Nord \\ Sud – Società à responsabilità limitata"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings("sqlite://", company={**BASE_CONFIG["company"], "name": AWKWARD_NAME})


def unfold(ics: str) -> list[str]:
    """Content lines as RFC 5545 section 3.1 reads them."""
    assert ics.endswith("\r\n")
    assert "\n" not in ics.replace("\r\n", "")  # CRLF only, no bare LF or CR
    return ics.replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def properties(ics: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in unfold(ics):
        name, _, value = line.partition(":")
        assert name not in found or name in ("BEGIN", "END"), name
        found.setdefault(name, value)
    return found


def unescape(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars)
            out.append("\n" if following in "nN" else following)
        else:
            assert char not in ",;", value  # unescaped separator inside TEXT
            out.append(char)
    return "".join(out)


def test_a_slot_is_one_event_in_utc(settings: Settings) -> None:
    ics = build_ics(
        SLOT, settings=settings, tracking_number="RP123456789IT", uid_domain="r.example"
    )
    lines = unfold(ics)
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"]
    assert lines[-1] == "END:VCALENDAR"
    assert [line for line in lines if line.startswith(("BEGIN:", "END:"))] == [
        "BEGIN:VCALENDAR",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    found = properties(ics)
    assert found["PRODID"]
    assert found["UID"] == "rebooking-42@r.example"
    assert found["DTSTAMP"] == "20261123T091230Z"
    assert found["DTSTART"] == "20261124T080000Z"  # 09:00 in Rome, winter time (UTC+1)
    assert found["DTEND"] == "20261124T120000Z"
    assert unescape(found["SUMMARY"]) == "Consegna pacco RP12 3456 789IT"


def test_lines_fold_at_75_octets_without_splitting_a_character(settings: Settings) -> None:
    ics = build_ics(
        SLOT, settings=settings, tracking_number="RP123456789IT", uid_domain="r.example"
    )
    physical = ics.encode().removesuffix(b"\r\n").split(b"\r\n")
    assert max(len(line) for line in physical) <= 75
    assert any(line.startswith(b" ") for line in physical)  # the description was folded
    for line in physical:
        line.decode("utf-8")  # each physical line is whole UTF-8: no character cut in two
    description = unescape(properties(ics)["DESCRIPTION"])
    assert description.startswith(AWKWARD_NAME + ", fascia 09:00–13:00.")
    assert "+39 02 1234 5678 (lun–ven 08:00–20:00)" in description


def test_text_escapes_backslash_semicolon_comma_and_newline(settings: Settings) -> None:
    ics = build_ics(
        SLOT, settings=settings, tracking_number="RP123456789IT", uid_domain="r.example"
    )
    raw = properties(ics)["DESCRIPTION"]
    assert raw.startswith("Rapido\\; Consegne\\, Nord \\\\ Sud")
    multiline = make_settings(
        "sqlite://", company={**BASE_CONFIG["company"], "name": "Rapido\nSud"}
    )
    found = properties(
        build_ics(SLOT, settings=multiline, tracking_number="RP1", uid_domain="r.example")
    )
    assert found["DESCRIPTION"].startswith("Rapido\\nSud")
    assert unescape(found["DESCRIPTION"]).startswith("Rapido\nSud")


def test_an_english_calendar_says_the_hours_in_english(settings: Settings) -> None:
    ics = build_ics(
        SLOT, settings=settings, tracking_number="RP1", uid_domain="r.example", locale="en"
    )
    description = unescape(properties(ics)["DESCRIPTION"])
    assert "(Mon–Fri 08:00–20:00)" in description
    assert "lun" not in description


def test_the_same_booking_gives_the_same_file(settings: Settings) -> None:
    first = build_ics(SLOT, settings=settings, tracking_number="RP1", uid_domain="r.example")
    again = build_ics(SLOT, settings=settings, tracking_number="RP1", uid_domain="r.example")
    assert first == again


def test_english_summer_time_and_a_window_to_midnight(settings: Settings) -> None:
    summer = Booked(
        id=1,
        choice=Choice(kind="slot", day=date(2026, 7, 14), window="18:00-24:00"),
        created_at=CREATED,
        due_at=None,
    )
    found = properties(
        build_ics(
            summer, settings=settings, tracking_number="RP1", uid_domain="r.example", locale="en"
        )
    )
    assert found["DTSTART"] == "20260714T160000Z"  # UTC+2 in summer
    assert found["DTEND"] == "20260714T220000Z"
    assert unescape(found["SUMMARY"]) == "Parcel delivery RP1"


def test_nothing_about_the_recipient_goes_in(settings: Settings) -> None:
    ics = build_ics(SLOT, settings=settings, tracking_number="RP1", uid_domain="r.example")
    assert "/r/" not in ics  # no rebooking link: it would open the booking to anyone
    assert {line.partition(":")[0] for line in unfold(ics)} <= {
        "BEGIN", "END", "VERSION", "PRODID", "CALSCALE", "METHOD", "UID", "DTSTAMP",
        "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "URL", "TRANSP",
    }  # fmt: skip


@pytest.mark.parametrize(
    "choice",
    [
        Choice(kind="neighbour", neighbour_name="Rossi"),
        Choice(kind="pickup", pickup_point="MI01"),
        Choice(kind="slot", day=None, window=None),
    ],
    ids=["neighbour", "pickup", "slot-without-day"],
)
def test_only_a_day_and_time_goes_in_a_calendar(settings: Settings, choice: Choice) -> None:
    booking = Booked(id=1, choice=choice, created_at=CREATED, due_at=None)
    with pytest.raises(NotInCalendarError):
        build_ics(booking, settings=settings, tracking_number="RP1", uid_domain="r.example")
