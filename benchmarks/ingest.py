"""Ingest throughput against a raw executemany ceiling, and peak memory on a big file."""

from __future__ import annotations

import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import text

from notifier import paths, schema
from notifier.config import Settings, load_settings
from notifier.db import make_engine, write_transaction
from notifier.fileimport import FileImport
from notifier.ingest import EVENTS

JOURNEY = ["CREATED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERY_ATTEMPTED", "DELIVERED"]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TARGET_RATIO = 0.30
TARGET_PEAK_MB = 300


def generate(path: Path, count: int, *, seed: int = 42) -> None:
    """`count` native events: shipments walking through their statuses, interleaved."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=3)
    with path.open("w", encoding="utf-8") as out:
        written = 0
        shipment = 0
        while written < count:
            window = [_history(shipment + i, rng, start) for i in range(200)]
            shipment += 200
            lines = [json.dumps(e, ensure_ascii=False) for history in window for e in history]
            rng.shuffle(lines)
            for line in lines[: count - written]:
                out.write(line + "\n")
            written += min(len(lines), count - written)


def _history(n: int, rng: random.Random, start: datetime) -> Iterator[dict[str, Any]]:
    tracking = f"RP{n:09d}IT"
    moment = start + timedelta(minutes=rng.randint(0, 1440))
    recipient = {
        "name": f"Cliente {n}",
        "phone": f"+39 3{rng.randint(20, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "email": f"cliente{n}@example.it",
        "locale": rng.choice(["it", "it", "it", "en"]),
    }
    for step, status in enumerate(JOURNEY):
        moment += timedelta(hours=rng.randint(1, 8))
        event: dict[str, Any] = {
            "event_id": f"{tracking}-{step}",
            "source": "tms",
            "carrier": "rapido",
            "tracking_number": tracking,
            "status": status,
            "occurred_at": moment.isoformat(),
            "depot": "MI01",
            "recipient": recipient,
            "sender": {"name": "Libreria Sant'Orsola"},
        }
        if status == "DELIVERY_ATTEMPTED":
            event |= {
                "reason": "RECIPIENT_ABSENT",
                "route_stop": n % 80,
                "next_attempt": {"date": "2026-11-23", "window": "10:00-14:00"},
            }
        yield event


def _settings(url: str) -> Settings:
    return load_settings(paths.example_config(), env={"NOTIFIER_DATABASE_URL": url})


def ours(path: Path, workdir: Path) -> float:
    """Seconds for `notifier ingest`'s own code path, into a fresh migrated SQLite file."""
    url = f"sqlite:///{workdir / 'ours.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    run = FileImport(
        engine=engine,
        settings=_settings(url),
        console=Console(file=io.StringIO()),
        report_path=None,
        now=lambda: NOW,
    )
    started = time.perf_counter()
    ok = run.ingest_files([path], None)
    elapsed = time.perf_counter() - started
    assert ok, run.summary_line()
    engine.dispose()
    return elapsed


def ceiling(path: Path, workdir: Path, batch_size: int) -> float:
    """Seconds to insert the same status_events rows with Core executemany, pre-built."""
    url = f"sqlite:///{workdir / 'ceiling.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with write_transaction(engine) as connection:  # the rows' one shipment, for the FK
        connection.execute(
            text(
                "INSERT INTO shipments (id, carrier, tracking_number, generation, status, "
                "status_occurred_at, first_event_at, created_at, updated_at) "
                "VALUES (1, '', 'X', 1, 'CREATED', :t, :t, :t, :t)",
            ),
            {"t": "2026-01-01"},
        )
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            e = json.loads(line)
            rows.append(
                {
                    "source": e["source"],
                    "event_id": e["event_id"],
                    "shipment_id": 1,
                    "status": e["status"],
                    "reason": e.get("reason"),
                    "raw_status": e["status"],
                    "raw_reason": e.get("reason"),
                    "occurred_at": datetime.fromisoformat(e["occurred_at"]),
                    "received_at": NOW,
                    "payload": line.rstrip("\n"),
                }
            )
    started = time.perf_counter()
    for i in range(0, len(rows), batch_size):
        with write_transaction(engine) as connection:
            connection.execute(EVENTS.insert(), rows[i : i + batch_size])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def peak_memory_mb(path: Path, workdir: Path) -> tuple[float, float]:
    """Peak RSS of the real `notifier ingest` command on `path`, and its run time."""
    url = f"sqlite:///{workdir / 'memory.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    env = {**os.environ, "NOTIFIER_DATABASE_URL": url}
    command = [sys.executable, "-m", "notifier", "ingest", str(path)]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak_kb / 1024, elapsed


def main(quick: bool) -> None:
    count, big = (20_000, 100_000) if quick else (200_000, 1_000_000)
    batch = _settings("sqlite://").ingest.batch_size
    with tempfile.TemporaryDirectory(prefix="notifier-bench-") as tmp:
        workdir = Path(tmp)
        events = workdir / "events.jsonl"
        generate(events, count)
        size_mb = events.stat().st_size / 1e6
        ours_s = ours(events, workdir)
        ceiling_s = ceiling(events, workdir, batch)
        ratio = ceiling_s / ours_s
        print(f"ingest {count:,} events ({size_mb:.0f} MB JSON Lines, batches of {batch}):")
        print(f"  ours     {count / ours_s:>10,.0f} events/s  ({ours_s:.1f} s)")
        print(f"  ceiling  {count / ceiling_s:>10,.0f} rows/s    ({ceiling_s:.1f} s, executemany)")
        verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
        print(f"  ratio    {ratio:.2f} of the ceiling (target >= {TARGET_RATIO}) {verdict}")
        events.unlink()
        generate(events, big, seed=7)
        peak, seconds = peak_memory_mb(events, workdir)
        verdict = "ok" if peak < TARGET_PEAK_MB else "MISSED"
        print(
            f"ingest {big:,} events ({events.stat().st_size / 1e6:.0f} MB) with the CLI: "
            f"peak memory {peak:.0f} MB (target < {TARGET_PEAK_MB}) {verdict}, "
            f"{big / seconds:,.0f} events/s"
        )
