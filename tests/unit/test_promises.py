"""The pure promise rules: windows in company time (DST included), and what a delivery or a
call makes of a promise."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from notifier.config import Settings
from notifier.rebooking.promises import (
    CallbackRefusedError,
    Settled,
    check_call,
    day_window,
    delivered,
    is_overdue,
    kept_at,
)
from notifier.vocabulary import CallbackOutcome, PromiseExcuse, PromiseKind, PromiseState
from tests.conftest import make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings("sqlite://")  # company time zone Europe/Rome


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "window", "start", "end"),
    [
        pytest.param(
            date(2026, 11, 24), "14:00-17:00", "2026-11-24 13:00", "2026-11-24 16:00", id="winter"
        ),
        pytest.param(
            date(2026, 10, 24), "14:00-17:00", "2026-10-24 12:00", "2026-10-24 15:00", id="summer"
        ),
        # Clocks go back at 03:00 on 25 October 2026: the afternoon is already CET.
        pytest.param(
            date(2026, 10, 25), "14:00-17:00", "2026-10-25 13:00", "2026-10-25 16:00", id="dst-day"
        ),
        pytest.param(
            date(2026, 10, 25), None, "2026-10-24 22:00", "2026-10-25 23:00", id="25-hour-day"
        ),
        pytest.param(
            date(2026, 3, 29), None, "2026-03-28 23:00", "2026-03-29 22:00", id="23-hour-day"
        ),
        pytest.param(
            date(2026, 11, 24), "20:00-24:00", "2026-11-24 19:00", "2026-11-24 23:00", id="to-24"
        ),
        pytest.param(
            date(2026, 11, 24), "14:00-10:00", "2026-11-23 23:00", "2026-11-24 23:00", id="reversed"
        ),
    ],
)
def test_a_window_is_its_day_and_hours_in_company_time(
    settings: Settings, day: date, window: str | None, start: str, end: str
) -> None:
    found = day_window(day, window, settings)
    assert (found.start, found.end) == (utc(start), utc(end))


END = utc("2026-11-24 16:00")
OPEN, KEPT, BROKEN, EXCUSED = (
    PromiseState.OPEN,
    PromiseState.KEPT,
    PromiseState.BROKEN,
    PromiseState.EXCUSED,
)


@pytest.mark.parametrize(
    ("state", "broken_at", "at", "expected"),
    [
        pytest.param(
            OPEN,
            None,
            utc("2026-11-24 15:00"),
            Settled(KEPT, kept_at=utc("2026-11-24 15:00")),
            id="inside",
        ),
        pytest.param(OPEN, None, END, Settled(KEPT, kept_at=END), id="at-the-end"),
        pytest.param(
            OPEN,
            None,
            utc("2026-11-24 17:00"),
            Settled(BROKEN, kept_at=utc("2026-11-24 17:00"), broken_at=END),
            id="late",
        ),
        pytest.param(
            BROKEN,
            utc("2026-11-24 16:00"),
            utc("2026-11-25 09:00"),
            Settled(BROKEN, kept_at=utc("2026-11-25 09:00"), broken_at=END),
            id="broken-by-the-watch-then-kept",
        ),
        pytest.param(KEPT, None, utc("2026-11-24 17:00"), None, id="kept-already"),
        pytest.param(EXCUSED, None, utc("2026-11-24 15:00"), None, id="excused"),
    ],
)
def test_keeping_a_promise(
    state: PromiseState, broken_at: datetime | None, at: datetime, expected: Settled | None
) -> None:
    assert kept_at(state, window_end=END, broken_at=broken_at, at=at) == expected


def test_a_delivery_keeps_delivery_promises_and_makes_a_callback_unneeded() -> None:
    early, late = utc("2026-11-24 10:00"), utc("2026-11-24 18:00")
    slot = delivered(PromiseKind.SLOT, OPEN, window_end=END, broken_at=None, at=early)
    assert slot == Settled(KEPT, kept_at=early)
    call = delivered(PromiseKind.CALLBACK, OPEN, window_end=END, broken_at=None, at=early)
    assert call == Settled(EXCUSED, excused_at=early, excuse=PromiseExcuse.DELIVERED)
    # Overdue already: a delivery does not make the call; the watch deals with it.
    assert delivered(PromiseKind.CALLBACK, OPEN, window_end=END, broken_at=None, at=late) is None


@pytest.mark.parametrize(
    ("state", "done_at", "now", "overdue"),
    [
        pytest.param(OPEN, None, utc("2026-11-24 15:59"), False, id="inside"),
        pytest.param(OPEN, None, END, True, id="at-the-end"),
        pytest.param(BROKEN, None, utc("2026-11-25 09:00"), True, id="broken"),
        pytest.param(
            BROKEN, utc("2026-11-25 09:00"), utc("2026-11-25 10:00"), False, id="made-late"
        ),
        pytest.param(EXCUSED, None, utc("2026-11-25 09:00"), False, id="excused"),
    ],
)
def test_a_callback_is_overdue_once_its_window_ends_unmade(
    state: PromiseState, done_at: datetime | None, now: datetime, overdue: bool
) -> None:
    assert is_overdue(state, done_at=done_at, window_end=END, now=now) is overdue


def test_a_call_says_who_and_how_it_went() -> None:
    call = check_call("  Anna   Rossi ", None, "  ")
    assert (call.by, call.outcome, call.note) == ("Anna Rossi", CallbackOutcome.REACHED, None)
    assert check_call("Anna", "wrong_number", "old number").outcome is CallbackOutcome.WRONG_NUMBER


@pytest.mark.parametrize(
    ("by", "outcome", "note", "field"),
    [
        pytest.param("", "reached", None, "by", id="nobody"),
        pytest.param("A" * 101, "reached", None, "by", id="long-name"),
        pytest.param("Anna", "maybe", None, "outcome", id="outcome"),
        pytest.param("Anna", "reached", "x" * 501, "note", id="long-note"),
    ],
)
def test_a_call_that_does_not_say_it_is_refused_naming_the_field(
    by: str, outcome: str, note: str | None, field: str
) -> None:
    with pytest.raises(CallbackRefusedError, match=f"^{field}: ") as raised:
        check_call(by, outcome, note)
    assert raised.value.field == field
