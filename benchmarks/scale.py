"""PostgreSQL dispatch with workers in processes of their own, through a provider that
takes 20 ms a call: messages a second against the provider's concurrency ceiling.

The ceiling of W workers with C sends in flight each is W x C / 20 ms: what a provider
answering in 20 ms lets through at that concurrency if notifier's own work cost nothing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, func, select, text

from benchmarks.report import record
from notifier import paths
from notifier.channels.base import OutgoingMessage, SendResult
from notifier.config import load_settings
from notifier.db import schema
from notifier.db.engine import engine_from, make_engine
from notifier.db.tables import OUTBOX
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rendering.environment import build_environment
from notifier.sending.burst import run_burst
from notifier.sending.dispatch import Dispatcher
from notifier.vocabulary import Channel

ADMIN_URL = os.environ.get(
    "NOTIFIER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
LATENCY = 0.020
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 11:00 in Rome: outside quiet hours
TARGET_ONE_WORKER = 0.7  # of the ceiling, at concurrency 16
TARGET_FOUR_WORKERS = 3.0  # times one worker at concurrency 1


class SlowProvider:
    """Answers every message after LATENCY seconds, like a provider's round trip."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: OutgoingMessage) -> SendResult:
        time.sleep(LATENCY)  # the provider's latency is what is being simulated
        return SendResult(provider_id=f"slow-{message.outbox_id}")


SECRET = "benchmark-secret-key"


def _settings(url: str) -> Any:
    env = {"NOTIFIER_DATABASE_URL": url, "NOTIFIER_SECRET_KEY": SECRET}
    return load_settings(paths.example_config(), env=env)


def _worker(url: str, concurrency: int, start: Any) -> None:
    settings = _settings(url)
    dispatch = settings.dispatch.model_copy(update={"concurrency": concurrency})
    settings = settings.model_copy(update={"dispatch": dispatch})
    engine = engine_from(settings)
    channels = {Channel.SMS: SlowProvider("sms"), Channel.EMAIL: SlowProvider("email")}
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels=channels,
        templates=build_environment(settings),
        worker=f"bench-{os.getpid()}",
    )
    start.wait()
    run_burst(dispatcher, lambda: NOW)  # the sender thread's loop, on the benchmark's clock
    dispatcher.close()
    engine.dispose()


def _seed(url: str, count: int) -> None:
    engine = make_engine(url)
    schema.upgrade(engine)
    events = [
        {
            "event_id": f"e-{n}",
            "tracking_number": f"RP{n:09d}IT",
            "status": "DELIVERY_ATTEMPTED",
            "reason": "RECIPIENT_ABSENT",
            "occurred_at": (NOW - timedelta(minutes=5)).isoformat(),
            "recipient": {"name": f"Cliente {n}", "phone": f"+39 333 {n:07d}"},
        }
        for n in range(count)
    ]
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    list(ingest(engine, items, settings=_settings(url), now=lambda: NOW))
    engine.dispose()


def _due(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        query = select(func.count()).where(OUTBOX.c.state == "pending", OUTBOX.c.due_at <= NOW)
        due = int(connection.execute(query).scalar_one())
    engine.dispose()
    return due


def _run(count: int, workers: int, concurrency: int) -> float:
    """Messages a second for `count` messages through `workers` processes."""
    name = f"notifier_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        _seed(url, count)
        due = _due(url)
        context = multiprocessing.get_context("spawn")
        # Every worker ready (imported, connected), and the parent: then the clock starts.
        start = context.Barrier(workers + 1)
        processes = [
            context.Process(target=_worker, args=(url, concurrency, start)) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        start.wait()
        began = time.perf_counter()
        for process in processes:
            process.join()
        took = time.perf_counter() - began
        assert _due(url) == 0, "messages were left unsent"
        return due / took
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(quick: bool) -> None:
    count = 400 if quick else 2000
    one = _run(count, 1, 1)
    base = 1 / LATENCY
    print(
        f"   1 worker,  1 in flight: {one:7.0f} msg/s, ceiling {base:5.0f}: ratio {one / base:.2f}"
    )
    record("scale", "1 worker, 1 in flight", ours=one, ceiling=base, unit="messages/s",
           ratio=one / base)  # fmt: skip
    for workers, concurrency in ((1, 16), (2, 16), (4, 16), (4, 1)):
        rate = _run(count * (2 if concurrency > 1 else 1), workers, concurrency)
        ceiling = workers * concurrency / LATENCY
        print(
            f"   {workers} worker(s), {concurrency:2d} in flight: {rate:7.0f} msg/s, "
            f"ceiling {ceiling:5.0f}: ratio {rate / ceiling:.2f}",
            flush=True,
        )
        target, met = "", None
        if (workers, concurrency) == (1, 16):
            target, met = f">= {TARGET_ONE_WORKER}", rate / ceiling >= TARGET_ONE_WORKER
        record(
            "scale", f"{workers} worker(s), {concurrency} in flight", ours=rate, ceiling=ceiling,
            unit="messages/s", ratio=rate / ceiling, target=target, met=met,
        )  # fmt: skip
        if (workers, concurrency) == (1, 16):
            verdict = "ok" if rate / ceiling >= TARGET_ONE_WORKER else "MISSED"
            print(f"   target one worker at 16 >= {TARGET_ONE_WORKER} of its ceiling: {verdict}")
        if (workers, concurrency) == (4, 1):
            times = rate / one
            verdict = "ok" if times >= TARGET_FOUR_WORKERS else "MISSED"
            goal = TARGET_FOUR_WORKERS
            print(f"   4 workers at 1 are {times:.1f}x one worker (target >= {goal}): {verdict}")
            record(
                "scale", "4 workers at 1 over 1 worker at 1", ours=rate, ceiling=one,
                unit="messages/s", ratio=times, target=f">= {goal}", met=times >= goal,
            )  # fmt: skip
