"""Dispatch throughput against a bare claim-and-mark loop, and event-to-outbox latency."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from benchmarks.report import record
from notifier import paths
from notifier.channels.base import OutgoingMessage, SendResult
from notifier.config import Settings, load_settings
from notifier.db import schema
from notifier.db.engine import make_engine, write_transaction
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.outbox import store as outbox
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 11:00 in Rome: outside quiet hours


class NoopChannel:
    """Accepts everything at once: what is left to measure is notifier's own work."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(provider_id=f"noop-{message.outbox_id}")


def _event(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e-{n}",
        "source": "bench",
        "carrier": "rapido",
        "tracking_number": f"RP{n:09d}IT",
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": (NOW - timedelta(minutes=5)).isoformat(),
        "next_attempt": {"date": "2026-11-23", "window": "10:00-14:00"},
        "recipient": {"name": f"Cliente {n}", "phone": f"+39 333 {n // 10000:03d} {n % 10000:04d}",
                      "locale": "it"},
        **extra,
    }  # fmt: skip


def _database(workdir: Path, name: str, count: int) -> tuple[Engine, Settings]:
    url = f"sqlite:///{workdir / name}"
    engine = make_engine(url)
    schema.upgrade(engine)
    settings = load_settings(paths.example_config(), env={"NOTIFIER_DATABASE_URL": url})
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(_event(n) for n in range(count))]
    list(ingest(engine, items, settings=settings, now=lambda: NOW, batch_size=500))
    return engine, settings


def ours(engine: Engine, settings: Settings) -> tuple[float, int]:
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels={"sms": NoopChannel("sms"), "email": NoopChannel("email")},
        templates=build_environment(settings),
        worker="bench",
    )
    sent = 0
    started = time.perf_counter()
    while stats := dispatcher.run_once(NOW).outcomes:
        sent += stats.get("sent", 0)
    return time.perf_counter() - started, sent


def ceiling(engine: Engine, settings: Settings) -> tuple[float, int]:
    """Claim and mark sent, nothing else: no staleness checks, rendering or channel."""
    lease = timedelta(seconds=settings.dispatch.lease_seconds)
    sent = 0
    started = time.perf_counter()
    while claimed := outbox.claim(
        engine, worker="bare", now=NOW, limit=settings.dispatch.batch_size, lease=lease
    ):
        for message in claimed:
            with write_transaction(engine) as connection:
                outbox.mark_sent(
                    connection, message, worker="bare", now=NOW, provider_id="x", rendered={}
                )
            sent += 1
    return time.perf_counter() - started, sent


def latency(workdir: Path, samples: int) -> list[float]:
    """Seconds from handing one event to ingest until its outbox row is committed."""
    engine, settings = _database(workdir, "latency.db", 0)
    timings = []
    for n in range(samples):
        event = _event(1_000_000 + n)
        started = time.perf_counter()
        list(
            ingest(
                engine, [Incoming(0, event, json.dumps(event))], settings=settings, now=lambda: NOW
            )
        )
        timings.append(time.perf_counter() - started)
    engine.dispose()
    return timings


def main(quick: bool) -> None:
    count, samples = (1_000, 100) if quick else (10_000, 1_000)
    with tempfile.TemporaryDirectory(prefix="notifier-bench-") as tmp:
        workdir = Path(tmp)
        engine, settings = _database(workdir, "ours.db", count)
        ours_s, ours_n = ours(engine, settings)
        engine.dispose()
        engine, settings = _database(workdir, "ceiling.db", count)
        ceiling_s, ceiling_n = ceiling(engine, settings)
        engine.dispose()
        assert ours_n == count, ours_n
        print(
            f"dispatch {count:,} missed-delivery SMS (no-op channel, SQLite, batches of "
            f"{settings.dispatch.batch_size}):"
        )
        print(f"  ours     {ours_n / ours_s:>8,.0f} messages/s  (render, checks, record)")
        print(f"  ceiling  {ceiling_n / ceiling_s:>8,.0f} messages/s  (claim + mark sent)")
        print(f"  ratio    {(ours_n / ours_s) / (ceiling_n / ceiling_s):.2f} of the ceiling")
        record(
            "dispatch", "no-op channel, SQLite", ours=ours_n / ours_s,
            ceiling=ceiling_n / ceiling_s, unit="messages/s",
            ratio=(ours_n / ours_s) / (ceiling_n / ceiling_s),
        )  # fmt: skip
        timings = sorted(latency(workdir, samples))
        p50 = statistics.median(timings) * 1000
        p95 = timings[int(len(timings) * 0.95) - 1] * 1000
        print(
            f"event to outbox row (one event per transaction, {samples} samples): "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )
