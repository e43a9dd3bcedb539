"""Promises, pure: the window each one names, and what a delivery or a call makes of it.

A promise is open until its window's end; a delivery (or, for a callback, the call) at or
before that end keeps it; after the end it is broken, and a late delivery or call leaves
it broken with `kept_at` set ("broken, then kept"). The SQL is in promise_store.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from notifier.config import Settings
from notifier.errors import NotifierError
from notifier.rebooking.choices import Choice, attempt_day, change_until, offered_days
from notifier.shipments import ShipmentRecord
from notifier.vocabulary import (
    CallbackOutcome,
    Channel,
    OutboxState,
    PromiseExcuse,
    PromiseKind,
    PromiseState,
    RebookOption,
)

# The rebooking choices that promise something; a pickup or a dispute promises nothing.
PROMISED_BY_CHOICE = {
    RebookOption.CALLBACK: PromiseKind.CALLBACK,
    RebookOption.SLOT: PromiseKind.SLOT,
    RebookOption.NEIGHBOUR: PromiseKind.NEIGHBOUR,
    RebookOption.SAFE_PLACE: PromiseKind.SAFE_PLACE,
}
# Choices that take the announced next attempt's place: the parcel comes another day, or
# waits at a place. A neighbour or a safe place applies to that attempt; a callback or a
# dispute leaves it as it is.
INSTEAD_OF_ATTEMPT = frozenset({RebookOption.SLOT, RebookOption.PICKUP})
# Still binding: excusing or settling touches only these.
UNSETTLED = frozenset({PromiseState.OPEN, PromiseState.BROKEN})

DONE_BY_LIMIT = 100
NOTE_LIMIT = 500


class CallbackNotFoundError(NotifierError, LookupError):
    """No callback has this id."""


class CallbackRefusedError(NotifierError, ValueError):
    """The callback cannot be marked done like this."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field  # id (done already, excused), by, outcome or note
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class Window:
    """When a promise is due, as aware UTC moments; `end` is when it breaks."""

    start: datetime
    end: datetime


class Told(StrEnum):
    """Whether the recipient has heard of a broken promise, as the depot's alert says."""

    TOLD = "told"  # the apology has gone, or is going now
    WAITING = "waiting"  # the apology is held for the morning (quiet hours)
    NOT_TOLD = "not_told"  # no usable address, opted out, or it could not be delivered


@dataclass(frozen=True, slots=True)
class Apology:
    """The recipient's apology for a promise, as its outbox row stands."""

    told: Told
    channel: Channel | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Promised:
    """What a message about a promise says was promised: its kind and window."""

    kind: PromiseKind
    window: Window
    # A callback's call, once staff record it: it may come after the window, before the
    # apology (held for the morning) or the alert has gone.
    done_at: datetime | None = None
    outcome: CallbackOutcome | None = None
    # For the depot's alert and the supervisor's escalation: whether the recipient knows.
    apology: Apology | None = None


_NOT_TOLD = frozenset(
    {
        OutboxState.FAILED,
        OutboxState.DEAD,
        OutboxState.SUPPRESSED,
        OutboxState.CANCELLED,
        OutboxState.UNDELIVERED,
    }
)


def apology_news(rows: Sequence[tuple[str, str, datetime]], *, now: datetime) -> Apology:
    """What the recipient's apology rows (channel, state, due_at) mean for the depot now.

    An SMS that failed may have fallen back to an email: the row that tells most counts.
    """
    best = Apology(Told.NOT_TOLD)
    for channel, state, due_at in rows:
        if OutboxState(state) in _NOT_TOLD:
            continue
        waiting = OutboxState(state) is OutboxState.PENDING and due_at > now
        if not waiting:
            return Apology(Told.TOLD, Channel(channel), due_at)
        if best.told is Told.NOT_TOLD or (best.due_at is not None and due_at < best.due_at):
            best = Apology(Told.WAITING, Channel(channel), due_at)
    return best


def day_window(day: date, window: str | None, settings: Settings) -> Window:
    """A day's "HH:MM-HH:MM" in company time; the whole day without one (or with a
    carrier's window that ends before it starts)."""
    tz = ZoneInfo(settings.company.timezone)
    whole_day = (
        datetime.combine(day, time(0), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz),
    )
    start, end = whole_day
    if window:
        first, _, last = window.partition("-")
        start, end = _moment(day, first, tz), _moment(day, last, tz)
        if end <= start:
            start, end = whole_day
    return Window(start.astimezone(UTC), end.astimezone(UTC))


def _moment(day: date, clock: str, tz: ZoneInfo) -> datetime:
    """`clock` on `day` in `tz`; "24:00" is the next midnight."""
    if clock == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=tz)


def choice_window(
    choice: Choice, *, shipment: ShipmentRecord, settings: Settings, now: datetime
) -> Window | None:
    """The window a booked choice promises; None for a choice that promises nothing.

    A callback or a slot: its day and window, in company time. A neighbour or a safe
    place: the day of the attempt it applies to, all of it unless the carrier announced
    a window for that day. That is the next attempt (before any attempt, the expected
    delivery day) while a choice can still reach it; otherwise the first day a choice
    made now can reach (the next working day whose change-until moment is ahead).
    """
    kind = PROMISED_BY_CHOICE.get(choice.kind)
    if kind is None:
        return None
    if kind in (PromiseKind.CALLBACK, PromiseKind.SLOT):
        if choice.day is None or choice.window is None:
            return None
        return day_window(choice.day, choice.window, settings)
    planned = attempt_day(shipment.status, shipment.next_attempt_date, shipment.estimated_delivery)
    if planned is not None and change_until(planned, settings) > now:
        announced = shipment.next_attempt_window if planned == shipment.next_attempt_date else None
        return day_window(planned, announced, settings)
    return day_window(offered_days(settings, now)[0], None, settings)


@dataclass(frozen=True, slots=True)
class Settled:
    """A promise's state and moments after a delivery or a call."""

    state: PromiseState
    kept_at: datetime | None = None
    broken_at: datetime | None = None
    excused_at: datetime | None = None
    excuse: PromiseExcuse | None = None


def kept_at(
    state: PromiseState, *, window_end: datetime, broken_at: datetime | None, at: datetime
) -> Settled | None:
    """What keeping the promise at `at` makes of it; None when it is settled already."""
    if state is PromiseState.OPEN:
        if at <= window_end:
            return Settled(PromiseState.KEPT, kept_at=at)
        return Settled(PromiseState.BROKEN, kept_at=at, broken_at=window_end)
    if state is PromiseState.BROKEN:
        return Settled(PromiseState.BROKEN, kept_at=at, broken_at=broken_at or window_end)
    return None


def delivered(
    kind: PromiseKind,
    state: PromiseState,
    *,
    window_end: datetime,
    broken_at: datetime | None,
    at: datetime,
) -> Settled | None:
    """What the parcel's delivery at `at` makes of a promise not yet kept.

    It keeps every delivery promise. It does not make a callback: an open one whose
    window had not ended is excused (nobody needs the call now); one already overdue
    stays as it is, for the promise watch.
    """
    if kind is PromiseKind.CALLBACK:
        if state is PromiseState.OPEN and at < window_end:
            return Settled(PromiseState.EXCUSED, excused_at=at, excuse=PromiseExcuse.DELIVERED)
        return None
    return kept_at(state, window_end=window_end, broken_at=broken_at, at=at)


def is_overdue(
    state: PromiseState, *, done_at: datetime | None, window_end: datetime, now: datetime
) -> bool:
    """A callback not made by the end of its window (and neither excused nor made since)."""
    return done_at is None and state in UNSETTLED and now >= window_end


@dataclass(frozen=True, slots=True)
class CallMade:
    """What the depot's staff say about a callback they made, checked."""

    by: str
    outcome: CallbackOutcome
    note: str | None


def check_call(by: str | None, outcome: str | None, note: str | None) -> CallMade:
    """Raise CallbackRefusedError naming the field unless these say who called and how it
    went; `outcome` unset means the recipient was reached."""
    name = " ".join((by or "").split())
    if not name:
        raise CallbackRefusedError("by", "say who made the call")
    # PostgreSQL's text cannot hold a NUL: refused here rather than failing the write.
    for field, value in (("by", name), ("note", note or "")):
        if "\x00" in value:
            raise CallbackRefusedError(field, "must not hold a NUL character")
    if len(name) > DONE_BY_LIMIT:
        raise CallbackRefusedError("by", f"at most {DONE_BY_LIMIT} characters")
    try:
        result = CallbackOutcome(outcome or CallbackOutcome.REACHED)
    except ValueError:
        allowed = ", ".join(o.value for o in CallbackOutcome)
        raise CallbackRefusedError(
            "outcome", f"must be one of {allowed}, not {outcome!r}"
        ) from None
    text = (note or "").strip() or None
    if text is not None and len(text) > NOTE_LIMIT:
        raise CallbackRefusedError("note", f"at most {NOTE_LIMIT} characters")
    return CallMade(name, result, text)
