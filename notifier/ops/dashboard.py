"""The ops dashboard as the page shows it: each depot's figures for a run of days, turned
into titled tables (the numbers) and charts (the same numbers, drawn). Pure: no database."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from markupsafe import Markup

from notifier.feedback.summary import SCORES, FeedbackSummary
from notifier.ops import charts
from notifier.ops.dashboard_store import Depot, Figures
from notifier.vocabulary import Channel, RebookOption

NO_DEPOT = "No depot"
_REBOOKED_KINDS = tuple(kind for kind in RebookOption if kind is not RebookOption.DISPUTE)
_KIND_NAMES = {
    RebookOption.SLOT: "Delivery slot",
    RebookOption.PICKUP: "Pickup point",
    RebookOption.NEIGHBOUR: "Neighbour",
    RebookOption.SAFE_PLACE: "Safe place",
    RebookOption.CALLBACK: "Callback",
}
_CHANNEL_NAMES = {Channel.SMS: "SMS", Channel.EMAIL: "Email"}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOTAL = "7 days"
_DOWN = tuple(reversed(SCORES))  # the best score first


@dataclass(frozen=True, slots=True)
class Table:
    """Numbers with their headers: `rows` are (row header, cells)."""

    key: str  # unique on the page: the element id
    caption: str
    headers: tuple[str, ...]  # the row headers' column first
    rows: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    lead: str  # the chosen day's figures in a sentence
    table: Table
    chart: Markup | None = None
    comments: tuple[tuple[str, str], ...] = ()  # (score and when, inert text)


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the element id, and the anchor the depot picker links to
    code: str | None  # None: events whose shipment names no depot
    heading: str
    panels: tuple[Panel, ...]


def _count(number: int, noun: str) -> str:
    """'1 dispute', '2 disputes'."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def day_label(day: date) -> str:
    """'Tue 24': short enough for a table row on a phone."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day}"


def duration_text(seconds: float | None) -> str:
    """'45 s', '3 min 5 s', '2 h 10 min'; an en dash when there is nothing to measure."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `share` of the values
    at or below it (so p50 of 1..4 is 2, and every answer is a time that was measured)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def section_keys(figures: Figures, configured: Sequence[str]) -> list[Depot]:
    """Configured depots in their order, then codes only the data knows, then no depot."""
    found = figures.depots()
    extra = sorted(depot for depot in found if depot is not None and depot not in configured)
    return [*configured, *extra, *([None] if None in found else [])]


class _Depot:
    """One depot's figures, read day by day (oldest first) and for the whole run."""

    def __init__(self, figures: Figures, depot: Depot) -> None:
        self.figures, self.depot = figures, depot
        self.days = figures.window.days

    def daily(self, name: str) -> list[int]:
        return [self.figures.counts[name, self.depot, at] for at in range(len(self.days))]

    def times(self, at: int | None) -> list[float]:
        spans = range(len(self.days)) if at is None else (at,)
        return [s for i in spans for s in self.figures.latencies.get((self.depot, i), [])]


def build_section(
    figures: Figures,
    *,
    depot: Depot,
    name: str | None,
    feedback: tuple[FeedbackSummary, FeedbackSummary] | None,
    tz: ZoneInfo,
) -> Section:
    """A depot's panels; `feedback` is (the day, the run) where the depot can be asked."""
    key = f"depot-{depot}" if depot is not None else "no-depot"
    data = _Depot(figures, depot)
    panels = [
        _events_panel(data, key),
        _rebooked_panel(data, key),
        *(_channel_panel(data, key, channel) for channel in Channel),
        _latency_panel(data, key),
        _callbacks_panel(data, key),
        _promises_panel(data, key),
    ]
    if feedback is not None:
        panels.append(_feedback_panel(key, *feedback, tz=tz))
    heading = NO_DEPOT if depot is None else f"{depot} · {name}" if name else depot
    return Section(key=key, code=depot, heading=heading, panels=tuple(panels))


def _by_day(data: _Depot, names: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Rows newest day first, then the run's total."""
    columns = [data.daily(name) for name in names]
    rows = [
        (day_label(day), tuple(str(column[at]) for column in columns))
        for at, day in reversed(list(enumerate(data.days)))
    ]
    return (*rows, (TOTAL, tuple(str(sum(column)) for column in columns)))


def _today(data: _Depot, name: str) -> int:
    return data.daily(name)[-1]


def _bars(*, key: str, title: str, labels: list[str], values: list[int]) -> Markup | None:
    """A bar chart, or none where every bar would be 0: the table says as much."""
    if not any(values):
        return None
    return charts.bar_chart(key=key, title=title, labels=labels, values=values)


def _labels(data: _Depot) -> list[str]:
    return [day_label(day) for day in data.days]


def _events_panel(data: _Depot, key: str) -> Panel:
    names = ("events", "missed", "rebooked", "disputes")
    table = Table(
        f"{key}-events",
        "Events in, missed deliveries, rebooked and disputes, by day",
        ("Day", "Events in", "Missed", "Rebooked", "Disputes"),
        _by_day(data, names),
    )
    missed = _today(data, "missed")
    lead = (
        f"{_count(_today(data, 'events'), 'event')} in; "
        f"{missed} missed {'delivery' if missed == 1 else 'deliveries'}, "
        f"{_today(data, 'rebooked')} of them rebooked; "
        f"{_count(_today(data, 'disputes'), 'dispute')}."
    )
    chart = _bars(
        key=f"{key}-events-chart",
        title="Events in per day",
        labels=_labels(data),
        values=data.daily("events"),
    )
    return Panel("Events and missed deliveries", lead, table, chart)


def _rebooked_panel(data: _Depot, key: str) -> Panel:
    day = data.days[-1]
    rows = tuple(
        (
            _KIND_NAMES[kind],
            (str(_today(data, f"rebooked:{kind}")), str(sum(data.daily(f"rebooked:{kind}")))),
        )
        for kind in _REBOOKED_KINDS
    )
    total = (str(_today(data, "rebooked")), str(sum(data.daily("rebooked"))))
    rows = (*rows, ("All choices", total))
    table = Table(
        f"{key}-rebooked",
        "Missed deliveries rebooked, by what the recipient chose",
        ("Choice", day_label(day), TOTAL),
        rows,
    )
    lead = f"Of the day's {_today(data, 'missed')} missed, {_today(data, 'rebooked')} rebooked."
    return Panel("Rebooked, by choice", lead, table)


def _channel_panel(data: _Depot, key: str, channel: Channel) -> Panel:
    label = _CHANNEL_NAMES[channel]
    names = [f"{what}:{channel}" for what in ("sent", "delivered", "failed", "suppressed")]
    table = Table(
        f"{key}-{channel}",
        f"{label} messages by day",
        ("Day", "Sent", "Delivered", "Failed", "Suppressed"),
        _by_day(data, names),
    )
    sent, delivered, failed, suppressed = (_today(data, name) for name in names)
    lead = f"{sent} sent, {delivered} delivered, {failed} failed, {suppressed} suppressed."
    chart = _bars(
        key=f"{key}-{channel}-chart",
        title=f"{label} messages sent per day",
        labels=_labels(data),
        values=data.daily(names[0]),
    )
    return Panel(f"{label} messages", lead, table, chart)


def _latency_panel(data: _Depot, key: str) -> Panel:
    spans = [*range(len(data.days) - 1, -1, -1), None]
    rows = []
    for at in spans:
        times = data.times(at)
        label = TOTAL if at is None else day_label(data.days[at])
        rows.append(
            (
                label,
                (
                    str(len(times)),
                    duration_text(percentile(times, 0.5)),
                    duration_text(percentile(times, 0.95)),
                ),
            )
        )
    table = Table(
        f"{key}-latency",
        "Time from an event to its message being sent, by day",
        ("Day", "Messages", "p50", "p95"),
        tuple(rows),
    )
    today = data.times(len(data.days) - 1)
    lead = (
        f"{_count(len(today), 'message')} caused by an event sent that day: half within "
        f"{duration_text(percentile(today, 0.5))}, 95% within "
        f"{duration_text(percentile(today, 0.95))}."
        if today
        else "No message caused by an event was sent that day."
    )
    days = range(len(data.days))
    series = (
        ("p50", [percentile(data.times(at), 0.5) for at in days]),
        ("p95", [percentile(data.times(at), 0.95) for at in days]),
    )
    chart = None
    if any(value is not None for _, values in series for value in values):
        chart = charts.line_chart(
            key=f"{key}-latency-chart",
            title="Time from event to message sent, p50 and p95, per day",
            labels=_labels(data),
            series=series,
            format_value=duration_text,
        )
    return Panel("Event to message sent", lead, table, chart)


def _callbacks_panel(data: _Depot, key: str) -> Panel:
    names = ("callbacks_due", "callbacks_done", "callbacks_overdue")
    table = Table(
        f"{key}-callbacks",
        "Callbacks by the day they fall due",
        ("Day", "Due", "Done", "Overdue"),
        _by_day(data, names),
    )
    due, done, overdue = (_today(data, name) for name in names)
    lead = f"{_count(due, 'callback')} due, {done} done, {overdue} overdue."
    return Panel("Callbacks", lead, table)


def _promises_panel(data: _Depot, key: str) -> Panel:
    names = ("promises_kept", "promises_broken")
    table = Table(
        f"{key}-promises",
        "Promises by the day their window starts",
        ("Day", "Kept", "Broken"),
        _by_day(data, names),
    )
    kept, broken = (_today(data, name) for name in names)
    lead = f"{_count(kept, 'promise')} kept, {broken} broken (a late one counts as broken)."
    return Panel("Promises", lead, table)


def _feedback_panel(key: str, day: FeedbackSummary, run: FeedbackSummary, *, tz: ZoneInfo) -> Panel:
    table = Table(
        f"{key}-feedback",
        "Feedback answers by score (5 is best)",
        ("Score", "Day", TOTAL),
        (
            *((f"{s} of 5", (str(day.by_score[s]), str(run.by_score[s]))) for s in _DOWN),
            ("All answers", (str(day.answers), str(run.answers))),
        ),
    )
    average = "no answers" if run.average is None else f"average {run.average:.2f} of 5"
    lead = f"{_count(day.answers, 'answer')} that day; {run.answers} in 7 days, {average}."
    chart = _bars(
        key=f"{key}-feedback-chart",
        title="Feedback answers in 7 days, by score",
        labels=[f"{score}" for score in SCORES],
        values=[run.by_score[score] for score in SCORES],
    )
    comments = tuple(
        (f"{c.score} of 5, {c.answered_at.astimezone(tz):%Y-%m-%d %H:%M}", c.text)
        for c in run.comments
    )
    return Panel("Feedback", lead, table, chart, comments)
