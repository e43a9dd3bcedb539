"""Callbacks as the phone desk reads them, and a day's promise figures: text and page rows.

Which callbacks and figures: ops/store.py's queries. Times are said in the
company's time zone, in English (staff tools, like the bookings list's columns); the
page and the command line show the same rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from notifier.config import Settings
from notifier.ops.store import CallbackEntry, DayFigures, EarlierCallback
from notifier.rebooking.promises import is_overdue
from notifier.rendering.context import readable_phone
from notifier.vocabulary import PromiseState

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class CallbackView:
    """One callback, every value already worded."""

    id: int
    window: str  # "Tue 2026-11-24 14:00-17:00"
    state: str  # "to call", "due now", "OVERDUE since ...", "done ...", "excused ..."
    overdue: bool
    can_mark: bool  # not made yet and not excused: the page offers its form
    depot: str
    name: str
    phone: str | None  # "+39 333 123 4567", to read and dial
    phone_e164: str | None  # for tel: links
    tracking_number: str
    parcel: str  # its status now, in words
    missed: str | None  # "recipient absent, Mon 2026-11-23 09:30"
    booked: str
    earlier: tuple[str, ...]
    note: str | None


def callback_view(entry: CallbackEntry, *, settings: Settings, now: datetime) -> CallbackView:
    tz = ZoneInfo(settings.company.timezone)
    overdue = is_overdue(entry.state, done_at=entry.done_at, window_end=entry.window_end, now=now)
    missed = None
    if entry.attempt_at is not None:
        why = _words(entry.attempt_reason) if entry.attempt_reason else "missed"
        missed = f"{why}, {_moment(entry.attempt_at, tz)}"
    return CallbackView(
        id=entry.id,
        window=window_text(entry.window_start, entry.window_end, tz),
        state=_state(entry, overdue, tz, now),
        overdue=overdue,
        can_mark=entry.done_at is None and entry.state is not PromiseState.EXCUSED,
        depot=entry.depot or "-",
        name=entry.recipient_name or "-",
        phone=readable_phone(entry.phone),
        phone_e164=entry.phone,
        tracking_number=entry.tracking_number,
        parcel=_words(entry.parcel_status),
        missed=missed,
        booked=_moment(entry.booked_at, tz),
        earlier=tuple(_earlier(item, tz) for item in entry.earlier),
        note=entry.note,
    )


def _state(entry: CallbackEntry, overdue: bool, tz: ZoneInfo, now: datetime) -> str:
    if entry.done_at is not None:
        late = ", after its window" if entry.state is PromiseState.BROKEN else ""
        outcome = _words(entry.outcome) if entry.outcome else "done"
        return f"done {_moment(entry.done_at, tz)} by {entry.done_by}: {outcome}{late}"
    if entry.state is PromiseState.EXCUSED:
        return "excused"
    if overdue:
        return f"OVERDUE since {_moment(entry.window_end, tz)}"
    return "due now" if now >= entry.window_start else "to call"


def _earlier(item: EarlierCallback, tz: ZoneInfo) -> str:
    window = window_text(item.window_start, item.window_end, tz)
    said = f"booked {_moment(item.booked_at, tz)} for {window}"
    if item.done_at is not None:
        outcome = _words(item.outcome) if item.outcome else "done"
        return f"{said}: {outcome}, called {_moment(item.done_at, tz)} by {item.done_by}"
    if item.excuse is not None:
        return f"{said}: {item.state} ({_words(item.excuse)})"
    return f"{said}: {item.state}, not called"


def window_text(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """'Tue 2026-11-24 14:00-17:00' in `tz`; a window ending at midnight ends at 24:00."""
    first, last = start.astimezone(tz), end.astimezone(tz)
    until = "24:00" if last.time() == time(0) and last.date() > first.date() else f"{last:%H:%M}"
    return f"{day_text(first.date())} {first:%H:%M}-{until}"


def day_text(day: date) -> str:
    """'Tue 2026-11-24'."""
    return f"{_DAYS[day.weekday()]} {day.isoformat()}"


def _moment(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{day_text(local.date())} {local:%H:%M}"


def _words(code: str) -> str:
    return code.lower().replace("_", " ")


def callbacks_text(views: list[CallbackView]) -> str:
    """A block per callback: the window and state, whom to call, the parcel, the history."""
    blocks = []
    for view in views:
        lines = [
            f"#{view.id}  {view.window}  {view.depot}  {view.state}",
            f"    {view.name}  {view.phone or 'no phone'}  {view.tracking_number} ({view.parcel})",
        ]
        if view.missed:
            lines.append(f"    missed delivery: {view.missed}")
        lines.append(f"    booked {view.booked}")
        lines.extend(f"    earlier: {line}" for line in view.earlier)
        if view.note:
            lines.append(f"    note: {view.note}")
        blocks.append("\n".join(lines))
    return "".join(f"{block}\n" for block in blocks)


_COLUMNS = ("kept", "broken", "late", "open", "excused")


def figures_text(figures: list[DayFigures]) -> str:
    """A table per depot and kind; `late` are the broken promises kept afterwards."""
    header = f"{'depot':<10} {'kind':<13}" + "".join(f"{name:>8}" for name in _COLUMNS)
    lines = [header]
    for line in figures:
        counts = "".join(f"{getattr(line, name):>8}" for name in _COLUMNS)
        lines.append(f"{line.depot or '-':<10} {line.kind.value:<13}{counts}")
    if figures:
        totals = "".join(f"{sum(getattr(f, name) for f in figures):>8}" for name in _COLUMNS)
        lines.append(f"{'all':<10} {'':<13}{totals}")
    return "\n".join(lines) + "\n"


def figures_json(figures: list[DayFigures]) -> str:
    """A JSON array, one object per depot and kind."""
    return json.dumps([asdict(line) for line in figures], indent=2) + "\n"
