"""What the promise watch makes of a promise whose window ended open (notify/followups.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier.notify.followups import after_window
from notifier.notify.quiethours import may_hear_at
from notifier.vocabulary import PromiseExcuse, PromiseKind, PromiseState, Status
from tests.conftest import make_settings

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 09:00 in Rome
END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 13:00 in Rome
BEFORE = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
INSIDE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "events", "state", "at", "excuse"),
    [
        (PromiseKind.SLOT, [], PromiseState.BROKEN, END, None),
        (PromiseKind.SLOT, [(Status.DELIVERED, INSIDE)], PromiseState.KEPT, INSIDE, None),
        (PromiseKind.SLOT, [(Status.DELIVERED, END)], PromiseState.KEPT, END, None),
        (
            PromiseKind.NEXT_ATTEMPT,
            [(Status.DELIVERY_ATTEMPTED, INSIDE)],
            PromiseState.EXCUSED,
            INSIDE,
            PromiseExcuse.ATTEMPTED,
        ),
        (PromiseKind.NEIGHBOUR, [(Status.EXCEPTION, INSIDE)], PromiseState.BROKEN, END, None),
        (PromiseKind.SAFE_PLACE, [(Status.DELIVERED, BEFORE)], PromiseState.BROKEN, END, None),
        (PromiseKind.SLOT, [(Status.DELIVERY_ATTEMPTED, LATER)], PromiseState.BROKEN, END, None),
        (
            PromiseKind.SLOT,
            [(Status.DELIVERY_ATTEMPTED, INSIDE), (Status.DELIVERED, LATER)],
            PromiseState.EXCUSED,
            INSIDE,
            PromiseExcuse.ATTEMPTED,
        ),
        # A callback is made by a call, never by a parcel's events.
        (PromiseKind.CALLBACK, [(Status.DELIVERED, INSIDE)], PromiseState.BROKEN, END, None),
    ],
    ids=[
        "nothing",
        "delivered-inside",
        "delivered-at-the-end",
        "attempted-inside",
        "exception-inside",
        "delivered-before-the-window",
        "attempted-after",
        "attempted-then-delivered-late",
        "callback",
    ],
)
def test_after_the_window(
    kind: PromiseKind,
    events: list[tuple[Status, datetime]],
    state: PromiseState,
    at: datetime,
    excuse: PromiseExcuse | None,
) -> None:
    followup = after_window(kind, window_start=START, window_end=END, events=events)
    assert (followup.state, followup.at, followup.excuse) == (state, at, excuse)
    assert followup.broken is (state is PromiseState.BROKEN)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 11, 24, 16, 0, tzinfo=UTC), datetime(2026, 11, 24, 16, 0, tzinfo=UTC)),
        # 23:00 in Rome waits for 08:00 the next morning.
        (datetime(2026, 11, 24, 22, 0, tzinfo=UTC), datetime(2026, 11, 25, 7, 0, tzinfo=UTC)),
        # Rome leaves summer time on 25 October 2026: 08:00 CET is 07:00 UTC.
        (datetime(2026, 10, 24, 21, 0, tzinfo=UTC), datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),
    ],
    ids=["afternoon", "late-evening", "across-the-clock-change"],
)
def test_an_apology_waits_for_the_end_of_quiet_hours(now: datetime, due: datetime) -> None:
    settings = make_settings("sqlite://")
    assert may_hear_at(now, phone="+393331234567", settings=settings) == due
