"""The SQL behind the ops dashboard: every figure of a run of days, by depot and company day.

A company day is midnight to midnight in `company.timezone`, so a day in late March has 23
hours and one in late October 25: the bounds are worked out in Python, one local midnight
at a time, and the database only compares stored UTC moments with them (a CASE over the
bounds puts each row in its day), which both SQLite and PostgreSQL do alike.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, and_, case, distinct, func, select

from notifier.config import Settings
from notifier.db.tables import EVENTS, LINKS, OUTBOX, REBOOKINGS, SHIPMENTS
from notifier.ops.store import callbacks, day_figures
from notifier.rebooking.promises import is_overdue
from notifier.vocabulary import OutboxState, RebookOption, Status

# A message that will not reach its recipient after all, whichever way that was learnt.
FAILED_STATES = (OutboxState.FAILED, OutboxState.DEAD, OutboxState.UNDELIVERED)
# The outcomes the dashboard counts by the moment a row finished, and under which name.
_FINISHED = {
    str(OutboxState.DELIVERED): "delivered",
    str(OutboxState.SUPPRESSED): "suppressed",
    **{str(state): "failed" for state in FAILED_STATES},
}

Depot = str | None  # None: a shipment no event named a depot for


@dataclass(frozen=True, slots=True)
class Window:
    """A run of company days, oldest first, and the UTC moments between them."""

    days: tuple[date, ...]
    bounds: tuple[datetime, ...]  # len(days) + 1: each day's first moment, then the end

    def index(self, moment: datetime) -> int | None:
        """Which of the days `moment` falls on; None outside the window."""
        at = bisect_right(self.bounds, moment) - 1
        return at if 0 <= at < len(self.days) else None


def window(last: date, *, days: int, settings: Settings) -> Window:
    """`days` company days ending with `last`."""
    tz = ZoneInfo(settings.company.timezone)
    run = tuple(last - timedelta(days=back) for back in range(days - 1, -1, -1))
    # In UTC: Python compares two datetimes of one tzinfo by their wall clocks.
    bounds = tuple(
        datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        for day in (*run, last + timedelta(days=1))
    )
    return Window(run, bounds)


@dataclass(slots=True)
class Figures:
    """Counts keyed (figure, depot, day index), and the event-to-sent times in seconds
    keyed (depot, day index)."""

    window: Window
    counts: Counter[tuple[str, Depot, int]] = field(default_factory=Counter)
    latencies: dict[tuple[Depot, int], list[float]] = field(default_factory=dict)

    def depots(self) -> set[Depot]:
        return {depot for _, depot, _ in self.counts} | {depot for depot, _ in self.latencies}


def _day(column: Any, run: Window) -> ColumnElement[int]:
    """The index of the window's day a moment falls on (rows outside are filtered out)."""
    return case(*((column < end, at) for at, end in enumerate(run.bounds[1:])), else_=-1)


def _within(column: Any, run: Window) -> ColumnElement[bool]:
    return and_(column >= run.bounds[0], column < run.bounds[-1])


def read_figures(
    connection: Connection, *, run: Window, settings: Settings, now: datetime
) -> Figures:
    """Every figure of the dashboard for the days of `run`, all depots at once."""
    found = Figures(run)
    _events_in(connection, run, found)
    _messages(connection, run, found)
    _latencies(connection, run, found)
    _missed_and_rebooked(connection, run, found)
    _disputes(connection, run, found)
    _callbacks(connection, run, found, settings=settings, now=now)
    _promises(connection, run, found, settings=settings)
    return found


def _events_in(connection: Connection, run: Window, found: Figures) -> None:
    """Events accepted, by the moment they were received."""
    day = _day(EVENTS.c.received_at, run).label("day")
    query = (
        select(SHIPMENTS.c.depot, day, func.count().label("n"))
        .select_from(EVENTS.join(SHIPMENTS, SHIPMENTS.c.id == EVENTS.c.shipment_id))
        .where(_within(EVENTS.c.received_at, run))
        .group_by(SHIPMENTS.c.depot, day)
    )
    for row in connection.execute(query):
        found.counts["events", row.depot, row.day] += row.n


def _messages(connection: Connection, run: Window, found: Figures) -> None:
    """Sent: accepted by the provider that day (whatever came after); delivered, failed
    and suppressed: the row reached that final state that day."""
    joined = OUTBOX.join(SHIPMENTS, SHIPMENTS.c.id == OUTBOX.c.shipment_id)
    sent_day = _day(OUTBOX.c.sent_at, run).label("day")
    sent = (
        select(SHIPMENTS.c.depot, OUTBOX.c.channel, sent_day, func.count().label("n"))
        .select_from(joined)
        .where(_within(OUTBOX.c.sent_at, run))
        .group_by(SHIPMENTS.c.depot, OUTBOX.c.channel, sent_day)
    )
    for row in connection.execute(sent):
        found.counts[f"sent:{row.channel}", row.depot, row.day] += row.n
    done_day = _day(OUTBOX.c.finished_at, run).label("day")
    finished = (
        select(
            SHIPMENTS.c.depot, OUTBOX.c.channel, OUTBOX.c.state, done_day, func.count().label("n")
        )
        .select_from(joined)
        .where(_within(OUTBOX.c.finished_at, run), OUTBOX.c.state.in_(list(_FINISHED)))
        .group_by(SHIPMENTS.c.depot, OUTBOX.c.channel, OUTBOX.c.state, done_day)
    )
    for row in connection.execute(finished):
        found.counts[f"{_FINISHED[row.state]}:{row.channel}", row.depot, row.day] += row.n


def _latencies(connection: Connection, run: Window, found: Figures) -> None:
    """From receiving an event to the provider accepting a message it caused, by the day
    the message was sent. The times come back one by one: SQLite has no percentiles."""
    query = (
        select(SHIPMENTS.c.depot, OUTBOX.c.sent_at, EVENTS.c.received_at)
        .select_from(
            OUTBOX.join(EVENTS, EVENTS.c.id == OUTBOX.c.status_event_id).join(
                SHIPMENTS, SHIPMENTS.c.id == OUTBOX.c.shipment_id
            )
        )
        .where(_within(OUTBOX.c.sent_at, run))
    )
    for row in connection.execute(query):
        at = run.index(row.sent_at)
        if at is not None:
            seconds = max(0.0, (row.sent_at - row.received_at).total_seconds())
            found.latencies.setdefault((row.depot, at), []).append(seconds)


def _missed_and_rebooked(connection: Connection, run: Window, found: Figures) -> None:
    """Missed deliveries: attempt events by the moment of the attempt. Rebooked: those of
    them whose link now carries a current choice (a dispute is not one), by its kind."""
    joined = EVENTS.join(SHIPMENTS, SHIPMENTS.c.id == EVENTS.c.shipment_id)
    missed = EVENTS.c.status == Status.DELIVERY_ATTEMPTED
    day = _day(EVENTS.c.occurred_at, run).label("day")
    query = (
        select(SHIPMENTS.c.depot, day, func.count().label("n"))
        .select_from(joined)
        .where(missed, _within(EVENTS.c.occurred_at, run))
        .group_by(SHIPMENTS.c.depot, day)
    )
    for row in connection.execute(query):
        found.counts["missed", row.depot, row.day] += row.n
    rebooked = (
        select(
            SHIPMENTS.c.depot, REBOOKINGS.c.kind, day, func.count(distinct(EVENTS.c.id)).label("n")
        )
        .select_from(
            joined.join(LINKS, LINKS.c.status_event_id == EVENTS.c.id).join(
                REBOOKINGS, REBOOKINGS.c.link_id == LINKS.c.id
            )
        )
        .where(
            missed,
            _within(EVENTS.c.occurred_at, run),
            REBOOKINGS.c.replaced_at.is_(None),
            REBOOKINGS.c.kind != RebookOption.DISPUTE,
        )
        .group_by(SHIPMENTS.c.depot, REBOOKINGS.c.kind, day)
    )
    for row in connection.execute(rebooked):
        found.counts[f"rebooked:{row.kind}", row.depot, row.day] += row.n
        found.counts["rebooked", row.depot, row.day] += row.n


def _disputes(connection: Connection, run: Window, found: Figures) -> None:
    """Disputed attempts, by the moment the recipient sent the form."""
    day = _day(REBOOKINGS.c.created_at, run).label("day")
    query = (
        select(SHIPMENTS.c.depot, day, func.count().label("n"))
        .select_from(REBOOKINGS.join(SHIPMENTS, SHIPMENTS.c.id == REBOOKINGS.c.shipment_id))
        .where(REBOOKINGS.c.kind == RebookOption.DISPUTE, _within(REBOOKINGS.c.created_at, run))
        .group_by(SHIPMENTS.c.depot, day)
    )
    for row in connection.execute(query):
        found.counts["disputes", row.depot, row.day] += row.n


def _callbacks(
    connection: Connection, run: Window, found: Figures, *, settings: Settings, now: datetime
) -> None:
    """The /ops/callbacks page's own list, day by day: due (window starts that day, not
    excused), done (marked made), overdue (not made by the window's end, at `now`)."""
    for at, day in enumerate(run.days):
        for entry in callbacks(
            connection, day=day, depot=None, which="all", settings=settings, now=now
        ):
            found.counts["callbacks_due", entry.depot, at] += 1
            found.counts["callbacks_done", entry.depot, at] += entry.done_at is not None
            overdue = is_overdue(
                entry.state, done_at=entry.done_at, window_end=entry.window_end, now=now
            )
            found.counts["callbacks_overdue", entry.depot, at] += overdue


def _promises(connection: Connection, run: Window, found: Figures, *, settings: Settings) -> None:
    """The day figures' kept and broken promises (window starting that day), all kinds.
    A promise broken and then kept late counts as broken, as it does there."""
    for at, day in enumerate(run.days):
        for line in day_figures(connection, day=day, depot=None, settings=settings):
            found.counts["promises_kept", line.depot, at] += line.kept
            found.counts["promises_broken", line.depot, at] += line.broken
