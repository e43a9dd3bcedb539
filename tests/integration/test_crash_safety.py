"""Crash safety, proven on PostgreSQL (issue 16, item 5): real worker processes send many
messages once each through a recording provider, and a SIGKILL, cut connections or a
SIGTERM lose none and duplicate only what the design allows (DESIGN.md section 7)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, select, text

from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.db import schema
from notifier.db.engine import make_engine, send_threads, write_transaction
from notifier.db.tables import OUTBOX, PROMISES, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.outbox import store as outbox
from notifier.rebooking import links, promise_watch
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Choice
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.shipments import ShipmentRecord
from notifier.vocabulary import Channel, RebookOption
from tests.conftest import EventFactory, make_settings
from tests.crash_support import (
    SmsProvider,
    Workers,
    all_sent,
    deliveries,
    frozen_holding_rows,
    held_by,
    outbox_states,
    phone,
    running_provider,
    seed,
    worker_environment,
    write_worker_config,
)
from tests.integration.conftest import wait_until
from tests.integration.test_links import Recording

T = TypeVar("T")

MESSAGES = 10_000
WORKERS = 4
BATCH = 50
LEASE_SECONDS = 10  # the least the configuration allows: a dead worker's rows wait this long
DRAIN_SECONDS = 120.0  # 10,000 messages take well under a minute; the rest is headroom


class Crash:
    """A database of the test's own, the recording provider, worker processes on them."""

    def __init__(
        self,
        url: str,
        engine: Engine,
        provider: SmsProvider,
        tmp_path: Path,
        batch: int,
        concurrency: int = 1,
    ) -> None:
        self.url, self.engine, self.provider, self.batch = url, engine, provider, batch
        self.concurrency = concurrency
        self.config = write_worker_config(
            tmp_path / "worker.toml",
            database_url=url,
            sms_url=provider.url,
            batch_size=batch,
            lease_seconds=LEASE_SECONDS,
            concurrency=concurrency,
        )
        env = worker_environment(provider.url)
        self.settings: Settings = load_settings(self.config, env)
        self.workers = Workers(self.config, tmp_path, env)

    def seed(self, count: int) -> None:
        seed(self.engine, self.settings, count, datetime.now(UTC))

    def drain(self, count: int) -> None:
        """Wait until every row is sent, failing saying where the outbox stood."""

        def drained() -> bool:
            # The provider's tally first: it costs nothing, where the outbox's is a query.
            return self.provider.count() >= count and all_sent(self.engine, count)

        try:
            wait_until(drained, what="every row sent", timeout=DRAIN_SECONDS)
        except AssertionError as exc:
            states, accepted = outbox_states(self.engine), self.provider.count()
            raise AssertionError(f"{exc}: outbox {states}, provider took {accepted}") from exc


def _crash(
    postgres_url: str, tmp_path: Path, *, delay: float = 0.0, concurrency: int = 1
) -> Iterator[Crash]:
    engine = make_engine(postgres_url)
    try:
        schema.upgrade(engine)
        with running_provider(delay=delay) as provider:
            crash = Crash(postgres_url, engine, provider, tmp_path, BATCH, concurrency)
            try:
                yield crash
            finally:
                crash.workers.stop_all()
    finally:
        engine.dispose()


@pytest.fixture
def crash(postgres_url: str, tmp_path: Path) -> Iterator[Crash]:
    yield from _crash(postgres_url, tmp_path)


@pytest.fixture
def slow_crash(postgres_url: str, tmp_path: Path) -> Iterator[Crash]:
    """The provider takes 20 ms a message: a batch of 50 is in flight for a second."""
    yield from _crash(postgres_url, tmp_path, delay=0.02)


def test_four_workers_send_ten_thousand_messages_each_exactly_once(crash: Crash) -> None:
    crash.seed(MESSAGES)
    workers = [crash.workers.start() for _ in range(WORKERS)]

    crash.drain(MESSAGES)

    sent = deliveries(crash.engine, crash.provider)
    assert sent.unsent == set()
    assert sent.duplicated == set()
    assert sent.mismatched() == []
    assert crash.provider.count() == MESSAGES
    assert all(w.alive() for w in workers)


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_only_its_batch(
    crash: Crash,
) -> None:
    crash.seed(MESSAGES)
    workers = [crash.workers.start() for _ in range(WORKERS)]
    victim = workers[0]
    # Hundreds sent, and the victim caught in the middle of a batch, its rows leased to it.
    wait_until(
        lambda: crash.provider.count() >= 500 and frozen_holding_rows(crash.engine, victim),
        what="the victim holding a batch after some hundreds of sends",
        timeout=DRAIN_SECONDS,
    )
    orphaned = held_by(crash.engine, victim.pid)
    victim.kill()
    # Dead, it changes nothing more: what it held waits for its lease to end.
    assert held_by(crash.engine, victim.pid) == orphaned
    assert 0 < len(orphaned) <= crash.batch
    workers.append(crash.workers.start())  # the supervisor restarts it

    crash.drain(MESSAGES)

    sent = deliveries(crash.engine, crash.provider)
    assert sent.unsent == set()
    assert sent.mismatched() == []
    # A row goes twice only when the provider took it from the dead worker, which died
    # before recording that: one of the rows it held, and never more than twice.
    assert sent.duplicated <= orphaned
    assert all(len(sent.sends[row_id]) == 2 for row_id in sent.duplicated)
    assert crash.provider.count() == MESSAGES + len(sent.duplicated)
    assert all(w.alive() for w in workers[1:])


@pytest.fixture
def concurrent_crash(postgres_url: str, tmp_path: Path) -> Iterator[Crash]:
    """Workers with 8 sends in flight each, through a provider taking 5 ms a message: each
    claims its next batch while the last is still being sent (Dispatcher.run_burst)."""
    yield from _crash(postgres_url, tmp_path, delay=0.005, concurrency=8)


def test_a_concurrent_worker_killed_mid_run_duplicates_at_most_its_sends_in_flight(
    concurrent_crash: Crash,
) -> None:
    crash = concurrent_crash
    count = 4_000
    crash.seed(count)
    workers = [crash.workers.start() for _ in range(2)]
    victim = workers[0]
    wait_until(
        lambda: crash.provider.count() >= 500 and frozen_holding_rows(crash.engine, victim),
        what="the victim holding rows after some hundreds of sends",
        timeout=DRAIN_SECONDS,
    )
    orphaned = held_by(crash.engine, victim.pid)
    victim.kill()
    # The batch being sent and the next one, claimed early to keep the threads busy.
    assert 0 < len(orphaned) <= 2 * crash.batch
    workers.append(crash.workers.start())

    crash.drain(count)

    sent = deliveries(crash.engine, crash.provider)
    assert sent.unsent == set()
    assert sent.mismatched() == []
    # Only a send the provider took and the dead worker had not recorded goes again: one
    # per send thread at most (a quarter more than in flight), whatever it claimed ahead.
    assert sent.duplicated <= orphaned
    assert len(sent.duplicated) <= send_threads(crash.concurrency)
    assert all(len(sent.sends[row_id]) == 2 for row_id in sent.duplicated)
    assert crash.provider.count() == count + len(sent.duplicated)
    assert all(w.alive() for w in workers[1:])


def _sent_at_least(crash: Crash, count: int) -> bool:
    return crash.provider.count() >= count


def _terminate_connections(engine: Engine, database: str) -> int:
    with engine.connect() as connection:
        cut = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        ).scalar_one()
    return int(cut)


def test_workers_whose_connections_are_cut_reconnect_and_finish(
    crash: Crash, postgres_admin: Engine
) -> None:
    crash.seed(MESSAGES)
    workers = [crash.workers.start() for _ in range(WORKERS)]
    database = crash.engine.url.database
    assert database is not None
    cuts: list[float] = []
    for after in (1_000, 4_000, 7_000):
        reached = partial(_sent_at_least, crash, after)
        wait_until(reached, what=f"{after} sends", timeout=DRAIN_SECONDS)
        cuts.append(time.monotonic())
        assert _terminate_connections(postgres_admin, database) >= WORKERS

    crash.drain(MESSAGES)

    sent = deliveries(crash.engine, crash.provider)
    assert sent.unsent == set()
    assert sent.mismatched() == []
    # Only a send whose outcome could not be recorded goes again: at most each worker's
    # batch in flight at each cut, each first sent around a cut (seconds, not minutes).
    assert len(sent.duplicated) <= len(cuts) * WORKERS * crash.batch
    first_sends = {row_id: sent.sends[row_id][0].at for row_id in sent.duplicated}
    assert {
        row_id: at for row_id, at in first_sends.items() if not any(abs(at - c) < 5 for c in cuts)
    } == {}
    assert crash.provider.count() == MESSAGES + sum(
        len(sent.sends[row_id]) - 1 for row_id in sent.duplicated
    )
    assert all(w.alive() for w in workers)


def test_sigterm_stops_claiming_settles_the_batch_in_hand_and_exits_0(
    slow_crash: Crash,
) -> None:
    crash = slow_crash
    count = 2_000  # 40 s of sending for one worker at 20 ms each: it is stopped long before
    crash.seed(count)
    worker = crash.workers.start()
    # Not frozen to be caught mid-batch, as the SIGKILL test does: a SIGTERM sent just
    # after SIGCONT may land on a thread other than the main one, which then never wakes
    # (see Worker.terminate). A batch takes a second here: the signal finds it mid-send.
    wait_until(
        lambda: crash.provider.count() >= 100 and bool(held_by(crash.engine, worker.pid)),
        what="the worker holding a batch mid-send",
        timeout=DRAIN_SECONDS,
    )

    code, seconds = worker.terminate()

    assert code == 0, worker.output()[-4000:]
    assert seconds <= 30
    assert "Traceback" not in worker.output()
    assert held_by(crash.engine, worker.pid) == set()
    states = outbox_states(crash.engine)
    assert set(states) <= {"sent", "pending"}, states
    # It stopped claiming: most rows were never taken.
    assert states["pending"] >= count // 2
    # Whatever the provider accepted was recorded before the exit: nothing goes twice.
    sent = deliveries(crash.engine, crash.provider)
    accepted = {row_id for row_id, sends in sent.sends.items() if sends}
    assert sent.duplicated == set()
    assert accepted == {row.id for row in sent.rows if row.state == "sent"}


# The claim itself -----------------------------------------------------------------------


def test_claims_racing_on_postgresql_never_take_more_than_the_limit_or_a_row_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url, pool_size=8)
    schema.upgrade(engine)
    try:
        with running_provider() as provider:
            crash = Crash(postgres_url, engine, provider, tmp_path, BATCH)
            crash.seed(3_000)
        now = datetime.now(UTC) + timedelta(seconds=1)
        lease = timedelta(minutes=5)
        limit = 7
        claimers = 8
        taken: dict[str, list[list[int]]] = {f"w{i}": [] for i in range(claimers)}
        start = threading.Barrier(claimers)

        def claim_all(worker: str) -> None:
            start.wait()
            while batch := outbox.claim(engine, worker=worker, now=now, limit=limit, lease=lease):
                taken[worker].append([row.id for row in batch])

        threads = [threading.Thread(target=claim_all, args=(w,)) for w in taken]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DRAIN_SECONDS)
        assert not any(thread.is_alive() for thread in threads)

        batches = [batch for batches in taken.values() for batch in batches]
        ids = [row_id for batch in batches for row_id in batch]
        assert max(len(batch) for batch in batches) <= limit
        assert len(ids) == len(set(ids)) == 3_000
        assert sum(1 for worker in taken.values() if worker) > 1  # they did race
        with engine.connect() as connection:
            holders: dict[str, int] = dict(
                connection.execute(
                    text("SELECT leased_by, count(*) FROM outbox GROUP BY leased_by")
                ).all()
            )
        assert holders == {w: sum(map(len, b)) for w, b in taken.items() if b}
    finally:
        engine.dispose()


# Periodic jobs with several workers ---------------------------------------------------
#
# The inbox and receipt reconciliation race tests live beside them (test_inbox.py,
# test_reconcile.py), the promise watch's on three promises in test_promise_watch.py.
# These add what those leave out: reminders, and promises beyond one batch of the watch
# and their escalation, taken by four workers at once on PostgreSQL.

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Rome: nobody's quiet hours
RACERS = 4


def _race(work: Callable[[int], T], racers: int = RACERS) -> list[T]:
    """`work(n)` on `racers` threads released together; what each returned."""
    start = threading.Barrier(racers)
    results: dict[int, T] = {}
    failures: list[BaseException] = []

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = work(n)
        except BaseException as exc:  # re-raised below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DRAIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures
    return [results[n] for n in range(racers)]


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url, pool_size=RACERS + 2)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def _missed(make_event: EventFactory, n: int) -> dict[str, Any]:
    return make_event(
        event_id=f"missed-{n}",
        tracking_number=f"RPMISS{n:05d}IT",
        status="DELIVERY_ATTEMPTED",
        reason="RECIPIENT_ABSENT",
        occurred_at="2026-11-23T09:30:00+01:00",
        recipient={"name": f"Cliente {n}", "phone": phone(n), "locale": "it"},
    )


def _store(engine: Engine, settings: Settings, events: list[dict[str, Any]]) -> None:
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    results = list(ingest(engine, items, settings=settings, now=lambda: MONDAY))
    assert {r.outcome.value for r in results} == {"stored"}


def _dispatcher(engine: Engine, settings: Settings, sms: Recording, worker: str) -> Dispatcher:
    return Dispatcher(
        engine=engine,
        settings=settings,
        channels={Channel.SMS: sms, Channel.EMAIL: Recording("email")},
        templates=build_environment(settings),
        worker=worker,
    )


def _states(engine: Engine, purpose: str) -> dict[str, int]:
    query = (
        select(OUTBOX.c.state, func.count())
        .where(OUTBOX.c.purpose == purpose)
        .group_by(OUTBOX.c.state)
    )
    with engine.connect() as connection:
        return {state: int(n) for state, n in connection.execute(query)}


def test_reminders_falling_due_together_are_each_sent_once_by_four_workers(
    pg_engine: Engine, make_event: EventFactory
) -> None:
    parcels = 240  # batches of 10: every worker gets several, and they contend for them
    settings = make_settings(
        pg_engine.url.render_as_string(hide_password=False), dispatch={"batch_size": 10}
    )
    _store(pg_engine, settings, [_missed(make_event, n) for n in range(parcels)])
    first = Recording("sms")
    while _dispatcher(pg_engine, settings, first, "w0").run_once(MONDAY).claimed:
        pass
    assert len(first.sent) == parcels
    assert _states(pg_engine, "missed_delivery_reminder") == {"pending": parcels}
    later = MONDAY + timedelta(hours=25)
    channels = [Recording("sms") for _ in range(RACERS)]

    def work(n: int) -> int:
        dispatcher = _dispatcher(pg_engine, settings, channels[n], f"w{n + 1}")
        ticks = 0
        while dispatcher.run_once(later).claimed:
            ticks += 1
        return ticks

    ticks = _race(work)

    sent = [m.outbox_id for channel in channels for m in channel.sent]
    assert len(sent) == len(set(sent)) == parcels  # each reminder once, none twice
    assert _states(pg_engine, "missed_delivery_reminder") == {"sent": parcels}
    assert sum(1 for t in ticks if t) > 1  # the work was shared: they did race


def _book_callbacks(
    engine: Engine, settings: Settings, make_event: EventFactory, count: int
) -> None:
    """`count` missed parcels whose recipients chose a callback on Tuesday 14:00-17:00."""
    _store(engine, settings, [_missed(make_event, n) for n in range(count)])
    choice = Choice(kind=RebookOption.CALLBACK, day=date(2026, 11, 24), window="14:00-17:00")
    with write_transaction(engine) as connection:
        shipments = [
            ShipmentRecord.from_mapping(row)
            for row in connection.execute(select(SHIPMENTS)).mappings()
        ]
        live = links.live_links(
            connection,
            [s.id for s in shipments],
            key=settings.link_key,
            settings=settings,
            now=MONDAY,
        )
        for n, shipment in enumerate(shipments):
            rebooking.book(
                connection,
                link=live[shipment.id],
                shipment=shipment,
                choice=choice,
                submission=f"form-{n}",
                settings=settings,
                now=MONDAY,
            )


def test_promises_beyond_one_batch_are_settled_once_by_four_watchers_and_escalated_once(
    pg_engine: Engine, make_event: EventFactory
) -> None:
    promises = promise_watch.BATCH + 50  # the watch takes two batches
    supervisor = "turni@rapido.example"
    settings = make_settings(
        pg_engine.url.render_as_string(hide_password=False),
        rebooking={"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        promises={"supervisor_email": supervisor, "escalate_after_hours": 4},
    )
    _book_callbacks(pg_engine, settings, make_event, promises)
    window_end = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 17:00 in Rome

    def watch(at: datetime) -> Callable[[int], promise_watch.WatchStats]:
        return lambda _n: promise_watch.watch_promises(pg_engine, settings=settings, now=at)

    rounds = _race(watch(window_end))

    assert sum(s.settled.get("broken", 0) for s in rounds) == promises
    assert sum(s.apologies for s in rounds) == promises
    assert sum(s.alerts for s in rounds) == promises
    assert _states(pg_engine, "promise_apology") == {"pending": promises}
    assert _states(pg_engine, "promise_alert") == {"pending": promises}
    with pg_engine.connect() as connection:
        states: dict[str, int] = dict(
            connection.execute(
                select(PROMISES.c.state, func.count()).group_by(PROMISES.c.state)
            ).all()
        )
    assert states == {"broken": promises}

    # A round escalates one batch; the next round (by whichever worker) the rest.
    escalated = 0
    for hours in (4, 4.5, 5):
        escalated += sum(s.escalations for s in _race(watch(window_end + timedelta(hours=hours))))
    assert escalated == promises
    assert _states(pg_engine, "promise_escalation") == {"pending": promises}
    again = promise_watch.watch_promises(
        pg_engine, settings=settings, now=window_end + timedelta(hours=6)
    )
    assert (again.settled, again.escalations) == ({}, 0)
