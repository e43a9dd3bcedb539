"""From POST /api/v1/events to the provider holding the SMS, at a steady 200 events a second:
on PostgreSQL with `notifier serve` and two `notifier worker` processes, and on the
embedded SQLite default with one `notifier run`.

The ceiling is the API's own answer: the same POSTs' round trips, measured in the same
run. Our figure is how much longer the whole way to the provider takes (p50, p95, p99).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks.report import record
from benchmarks.scale import ADMIN_URL
from notifier.db import schema
from notifier.db.engine import make_engine
from tests.crash_support import (
    SmsProvider,
    phone,
    running_provider,
    worker_environment,
    write_worker_config,
)

RATE = 200  # events a second
TARGET_P95 = 0.5  # seconds, on PostgreSQL
API_KEY = "benchmark-api-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _event(n: int) -> bytes:
    moment = datetime.now(UTC) - timedelta(minutes=1)
    return json.dumps(
        {
            "event_id": f"lat-{n}",
            "tracking_number": f"RP{n:09d}IT",
            "status": "DELIVERY_ATTEMPTED",
            "reason": "RECIPIENT_ABSENT",
            "occurred_at": moment.isoformat(),
            "recipient": {"name": f"Cliente {n}", "phone": phone(n), "locale": "it"},
        }
    ).encode()


def _wait_healthy(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)  # polling a starting server, not synchronising a test
    raise RuntimeError(f"the server on port {port} never became healthy")


@contextmanager
def _processes(commands: list[list[str]], env: dict[str, str], logs: Path) -> Iterator[None]:
    started = []
    try:
        for number, command in enumerate(commands):
            log = (logs / f"process-{number}.log").open("wb")
            started.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=60)


def _post_steadily(port: int, count: int) -> tuple[dict[int, float], list[float]]:
    """`count` events at RATE a second; when each was sent, and each POST's round trip."""
    sent: dict[int, float] = {}
    round_trips: list[float] = []
    lock = threading.Lock()
    began = time.monotonic()
    clients = 8

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        for n in range(offset, count, clients):
            due = began + n / RATE
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # the steady rate is the point
            at = time.monotonic()
            connection.request("POST", "/api/v1/events", body=_event(n), headers=headers)
            answer = connection.getresponse()
            answer.read()
            took = time.monotonic() - at
            assert answer.status == 200, answer.status
            with lock:
                sent[n] = at
                round_trips.append(took)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent, round_trips


def _measure(
    label: str, count: int, provider: SmsProvider, port: int, workdir: Path
) -> tuple[float, float, float, float]:
    sent, round_trips = _post_steadily(port, count)
    deadline = time.monotonic() + 120
    while provider.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the last sends, not synchronising a test
    accepted = {int(a.to[6:]): a.at for a in provider.snapshot()}
    missing = count - len(accepted)
    latencies = sorted(accepted[n] - sent[n] for n in sent if n in accepted)
    cuts = statistics.quantiles(latencies, n=100)
    p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    api95 = statistics.quantiles(round_trips, n=100)[94]
    print(
        f"   {label}: event to provider p50 {p50 * 1000:4.0f} ms, p95 {p95 * 1000:4.0f} ms, "
        f"p99 {p99 * 1000:4.0f} ms; the POST alone p95 {api95 * 1000:4.0f} ms "
        f"(ratio p95/POST p95 {p95 / api95:.1f})"
        + (f"; {missing} never arrived" if missing else ""),
        flush=True,
    )
    for name, value in (("p50", p50), ("p95", p95), ("p99", p99)):
        met = value < TARGET_P95 if name == "p95" and "PostgreSQL" in label else None
        record(
            "latency", f"{label}, event to provider {name}", ours=value * 1000,
            ceiling=api95 * 1000, unit="ms (ceiling: the POST's own p95)",
            ratio=value / api95, target=f"< {TARGET_P95 * 1000:.0f} ms" if met is not None else "",
            met=met,
        )  # fmt: skip
    return p50, p95, p99, api95


def _postgres(count: int) -> float:
    name = f"notifier_latency_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
            workdir = Path(folder)
            provider = stack.enter_context(running_provider())
            # The tick is the default 5 s: only a wake-up can make it sub-second.
            config = write_worker_config(
                workdir / "config.toml",
                database_url=url,
                sms_url=provider.url,
                batch_size=50,
                interval_seconds=5,
            )
            env = {**worker_environment(provider.url), "NOTIFIER_API_KEY": API_KEY}
            port = _free_port()
            run = [sys.executable, "-m", "notifier"]
            commands = [
                [*run, "serve", "--config", str(config), "--port", str(port)],
                [*run, "worker", "--config", str(config)],
                [*run, "worker", "--config", str(config)],
            ]
            stack.enter_context(_processes(commands, env, workdir))
            _wait_healthy(port, time.monotonic() + 60)
            _, p95, _, _ = _measure("PostgreSQL, 2 workers", count, provider, port, workdir)
            return p95
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sqlite(count: int) -> None:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        url = f"sqlite:///{workdir / 'notifier.db'}"
        engine = make_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        provider = stack.enter_context(running_provider())
        # 8 sends in flight, as config.example.toml ships: the embedded default.
        config = write_worker_config(
            workdir / "config.toml", database_url=url, sms_url=provider.url, batch_size=50,
            interval_seconds=5, concurrency=8,
        )  # fmt: skip
        env = {**worker_environment(provider.url), "NOTIFIER_API_KEY": API_KEY}
        port = _free_port()
        command = [sys.executable, "-m", "notifier", "run", "--config", str(config)]
        stack.enter_context(_processes([[*command, "--port", str(port)]], env, workdir))
        _wait_healthy(port, time.monotonic() + 60)
        _measure("SQLite, one `notifier run`", count, provider, port, workdir)


def main(quick: bool) -> None:
    count = RATE * (3 if quick else 10)
    os.environ.pop("NOTIFIER_CONFIG", None)
    p95 = _postgres(count)
    verdict = "ok" if p95 < TARGET_P95 else "MISSED"
    print(f"   target p95 under {TARGET_P95 * 1000:.0f} ms on PostgreSQL: {verdict}", flush=True)
    _sqlite(count)
