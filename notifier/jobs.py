"""Scheduled work as plain functions; the only place allowed to log an error and go on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import TYPE_CHECKING

from notifier.privacy import retention
from notifier.rebooking import promise_watch
from notifier.sending import burst

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from notifier.config import Settings
    from notifier.ingest.demo import DemoFeed
    from notifier.ingest.inbox import Inbox, InboxPass
    from notifier.sending.batches import DispatchStats
    from notifier.sending.dispatch import Dispatcher
    from notifier.sending.reconcile import Reconciler

log = logging.getLogger(__name__)


@dataclass
class SchedulerHealth:
    """What /healthz says about the in-process scheduler: running, and ticking."""

    started_at: datetime | None = None
    last_tick: datetime | None = None
    ticks: int = 0
    _lock: Lock = field(default_factory=Lock, repr=False)

    def tick(self, now: datetime) -> int:
        """Record a beat at `now`; returns how many there have been."""
        with self._lock:
            self.last_tick = now
            self.ticks += 1
            return self.ticks


def heartbeat(health: SchedulerHealth) -> None:
    """Proves the scheduler's thread is alive; /healthz reports the last beat. The first
    is logged: a worker has no /healthz, and APScheduler's own lines for each run are off
    (jsonlog.py), so this says the worker's jobs have started running."""
    if health.tick(datetime.now(UTC)) == 1:
        log.info("scheduler: running its jobs (first heartbeat)")


def dispatch_due(dispatcher: Dispatcher, now: datetime | None = None) -> DispatchStats | None:
    """Send one batch of what is due; keep ticking whatever one tick's failure was (then
    None)."""
    moment = now or datetime.now(UTC)
    return _logged(lambda: dispatcher.run_once(moment))


def send_burst(
    dispatcher: Dispatcher, clock: Callable[[], datetime], stopping: Callable[[], bool]
) -> DispatchStats | None:
    """Send everything due, batch after batch, until a claim comes back short or the
    worker is stopping; None when the database or a provider failed meanwhile."""
    return _logged(lambda: burst.run_burst(dispatcher, clock, stopping))


def _logged(run: Callable[[], DispatchStats]) -> DispatchStats | None:
    try:
        stats = run()
    except Exception:
        # The database may be restarting or a provider's library may misbehave: the rows
        # stay leased or pending and the next tick (or another worker) picks them up.
        log.exception("dispatch tick failed")
        return None
    if stats.claimed:
        # Counts only: addresses and contents never go to the log.
        log.info("dispatch: %s", ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items())))
    return stats


def reconcile_receipts(reconciler: Reconciler) -> None:
    """Ask the provider about SMS whose receipt never came; keep going whatever happens."""
    try:
        stats = reconciler.run_once(datetime.now(UTC))
    except Exception:
        # Nothing is lost: the rows stay `sent` and the next round (or worker) asks.
        log.exception("receipt reconciliation failed")
        return
    # Row ids and provider codes only: numbers and texts never go to the log.
    for row_id, why in stats.unanswered:
        log.warning("receipts: outbox row %d: the provider did not answer (%s)", row_id, why)
    if stats.gave_up:
        rows = ", ".join(str(row_id) for row_id in stats.gave_up)
        log.warning("receipts: no final status after the last check, left sent: rows %s", rows)
    if stats.asked:
        log.info("receipts: %s", ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items())))


def watch_promises(engine: Engine, settings: Settings) -> None:
    """Settle the promises whose window has ended; a broken one queues its apology and
    the depot's alert, once, however many workers run this."""
    try:
        stats = promise_watch.watch_promises(engine, settings=settings, now=datetime.now(UTC))
    except Exception:
        # Nothing is lost: the promises stay open and the next round (or worker) takes them.
        log.exception("promise watch failed")
        return
    if stats.no_contact:
        rows = ", ".join(str(promise_id) for promise_id in stats.no_contact)
        log.warning("promises: broken with no usable contact for an apology: %s", rows)
    if stats.settled or stats.escalations:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(stats.settled.items())) or "none settled"
        log.info(
            "promises: %s; %d apologies, %d alerts, %d escalations",
            counts,
            stats.apologies,
            stats.alerts,
            stats.escalations,
        )


def apply_retention(engine: Engine, settings: Settings) -> None:
    """Anonymise the shipments final for longer than [privacy] retention_days; once each,
    however many workers run this."""
    try:
        counts = retention.apply_retention(engine, settings=settings, now=datetime.now(UTC))
    except Exception:
        # Nothing is lost: what was not anonymised is still due, and the next run takes it.
        log.exception("retention failed")
        return
    if counts:
        # Counts per table only: what was cleared is never named.
        log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def feed_demo(feed: DemoFeed) -> None:
    """Store the demo events whose time has come (`notifier run --demo`)."""
    if feed.done:
        return
    try:
        count = feed.feed(datetime.now(UTC))
    except Exception:
        log.exception("demo feed failed")
        return
    if count:
        log.info("demo: %d event(s) stored, %d to come", count, len(feed.events) - feed.fed)


def watch_inbox(inbox: Inbox) -> InboxPass | None:
    """Ingest the files dropped in the inbox folder that are ready; each once, however
    many workers watch it. What the pass did, or None when it failed."""
    try:
        result = inbox.run_once(datetime.now(UTC))
    except Exception:
        # The file being ingested stays in processing/ and is taken again later
        # (ingest/inbox.py RECLAIM_AFTER); the other files wait for the next pass.
        log.exception("inbox pass failed")
        return None
    # File names and counts only: the lines hold names, phones and addresses.
    for filed in result.filed:
        s = filed.summary
        log.log(
            logging.INFO if filed.folder == "done" else logging.WARNING,
            "inbox: %s -> %s/%s: stored %d, duplicates %d, conflicts %d, rejected %d, "
            "unknown statuses %d%s",
            filed.name,
            filed.folder,
            filed.filed_as.name,
            s.stored,
            s.duplicates,
            s.conflicts,
            s.rejected,
            s.unknown_statuses,
            "; unreadable, see its report" if filed.error else "",
        )
    if result.deferred:
        log.warning(
            "inbox: the database is unavailable; %s left in processing/ to retry",
            ", ".join(result.deferred),
        )
    return result
