"""What the promise watch makes of a promise whose window has ended unsettled. Pure.

A callback not made by its window's end is broken. A delivery promise (a slot, a next
attempt, a neighbour or a safe place) is kept by a DELIVERED inside its window (one the
watch sees before ingest settled it); an attempt inside it means the courier came and
found nobody in: excused, the missed delivery's own message says what comes next. An
exception, or nothing at all, leaves the recipient waiting: broken, and they must hear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from notifier.vocabulary import PromiseExcuse, PromiseKind, PromiseState, Status


@dataclass(frozen=True, slots=True)
class Followup:
    """The state an ended promise moves to; `at` is when (kept_at, excused_at, broken_at)."""

    state: PromiseState
    at: datetime
    excuse: PromiseExcuse | None = None

    @property
    def broken(self) -> bool:
        return self.state is PromiseState.BROKEN


def after_window(
    kind: PromiseKind,
    *,
    window_start: datetime,
    window_end: datetime,
    events: Iterable[tuple[Status, datetime]],
) -> Followup:
    """What an open promise whose window has ended becomes, given the parcel's events
    (status, occurred_at). Events outside the window do not count."""
    if kind is not PromiseKind.CALLBACK:
        inside = sorted((at, status) for status, at in events if window_start <= at <= window_end)
        delivered = [at for at, status in inside if status is Status.DELIVERED]
        if delivered:
            return Followup(PromiseState.KEPT, delivered[0])
        attempted = [at for at, status in inside if status is Status.DELIVERY_ATTEMPTED]
        if attempted:
            return Followup(PromiseState.EXCUSED, attempted[0], PromiseExcuse.ATTEMPTED)
    return Followup(PromiseState.BROKEN, window_end)
