"""The only module that imports APScheduler: which jobs tick, and how often.

APScheduler only ticks here; the database holds all state, so its in-memory job store
is never shared between processes (APScheduler 3.x stores must not be).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from notifier import jobs
from notifier.config import Settings
from notifier.ingest.demo import DemoFeed
from notifier.ingest.inbox import Inbox
from notifier.rendering.environment import build_environment
from notifier.sender import SendLoop
from notifier.sending.dispatch import Dispatcher
from notifier.sending.reconcile import Reconciler

HEARTBEAT_SECONDS = 10
# Receipts are overdue after tens of minutes (channels.sms.receipt_deadline_minutes): a
# round every few minutes finds them soon enough, and costs one indexed query when none is.
RECONCILE_SECONDS = 300
# Windows end on the hour or half hour; a minute late is soon enough for an apology.
PROMISE_WATCH_SECONDS = 60
# Retention counts in days: once a day is on time. Each process runs it; the job's
# compare-and-set leaves each shipment to one of them.
RETENTION_SECONDS = 24 * 60 * 60
RETENTION_FIRST_SECONDS = 300


class NotifierScheduler:
    """An APScheduler scheduler with notifier's jobs, and the health it reports."""

    def __init__(
        self, scheduler: BaseScheduler, health: jobs.SchedulerHealth, sender: SendLoop
    ) -> None:
        self._scheduler = scheduler
        self.health = health
        self.sender = sender

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        self.health.started_at = datetime.now(UTC)
        self._scheduler.start()
        self.sender.start()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop claiming and finish what is in flight; whether the sender ended in time
        (if not, its rows' leases run out and another worker takes them)."""
        ended = self.sender.stop(timeout)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        return ended


def build_dispatcher(
    settings: Settings, engine: Engine, *, concurrency: int | None = None
) -> Dispatcher:
    from notifier.channels.registry import build_channels

    # Each process is its own worker; the id shows in outbox.leased_by for ops.
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    return Dispatcher(
        engine=engine,
        settings=settings,
        channels=build_channels(settings),
        templates=build_environment(settings),
        worker=worker,
        concurrency=concurrency,
    )


def build_reconciler(settings: Settings, engine: Engine) -> Reconciler:
    from notifier.channels.registry import build_channels

    # Channels of its own: the dispatch and reconcile jobs run on two threads, and each
    # Twilio client keeps its own HTTP session.
    return Reconciler(engine=engine, settings=settings, channels=build_channels(settings))


def build_scheduler(
    settings: Settings,
    engine: Engine,
    *,
    dispatcher: Dispatcher | None = None,
    reconciler: Reconciler | None = None,
    demo: DemoFeed | None = None,
) -> NotifierScheduler:
    defaults = {
        # A tick missed while the process was busy or asleep is run once, late, rather
        # than several times in a burst: every job here catches up on its own.
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": 30,
    }
    # Always in the background: `notifier worker` waits on a signal in its main thread
    # instead of running APScheduler's blocking loop, which a KeyboardInterrupt can
    # leave holding its own locks.
    scheduler = BackgroundScheduler(job_defaults=defaults, timezone=UTC, daemon=True)
    health = jobs.SchedulerHealth()
    # Sending is not an APScheduler job: its own thread sends the moment a message is
    # queued (sender.py), the interval being only its safety net.
    sender = SendLoop(
        dispatcher or build_dispatcher(settings, engine),
        interval_seconds=settings.dispatch.interval_seconds,
    )
    scheduler.add_job(
        jobs.reconcile_receipts,
        "interval",
        seconds=RECONCILE_SECONDS,
        args=[reconciler or build_reconciler(settings, engine)],
        id="reconcile",
    )
    scheduler.add_job(
        jobs.watch_promises,
        "interval",
        seconds=PROMISE_WATCH_SECONDS,
        args=[engine, settings],
        id="promise_watch",
    )
    scheduler.add_job(
        jobs.apply_retention,
        "interval",
        seconds=RETENTION_SECONDS,
        args=[engine, settings],
        id="retention",
        # Soon after start too, or a process restarted daily would never run it.
        next_run_time=datetime.now(UTC) + timedelta(seconds=RETENTION_FIRST_SECONDS),
    )
    if settings.ingest.inbox_dir is not None:
        inbox = Inbox(root=settings.ingest.inbox_dir, engine=engine, settings=settings)
        scheduler.add_job(
            jobs.watch_inbox,
            "interval",
            seconds=settings.ingest.inbox_interval_seconds,
            args=[inbox],
            id="inbox",
            next_run_time=datetime.now(UTC),
        )
    if demo is not None:
        scheduler.add_job(
            jobs.feed_demo,
            "interval",
            seconds=5,
            args=[demo],
            id="demo",
            next_run_time=datetime.now(UTC),
        )
    scheduler.add_job(
        jobs.heartbeat,
        "interval",
        seconds=HEARTBEAT_SECONDS,
        args=[health],
        id="heartbeat",
        next_run_time=datetime.now(UTC),
    )
    return NotifierScheduler(scheduler, health, sender)
