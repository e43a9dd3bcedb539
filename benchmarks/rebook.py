"""GET /r/{token} under load against a hello-world route of the same app and server."""

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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.report import record
from notifier import paths
from notifier.config import load_settings
from notifier.db import schema
from notifier.db.engine import make_engine, read_transaction
from notifier.db.tables import SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import links

TARGET_RATIO = 0.5
CLIENTS = 8
SECRET = "benchmark-secret-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _token(url: str) -> str:
    """A stored missed delivery and its link's token."""
    env = {"NOTIFIER_DATABASE_URL": url, "NOTIFIER_SECRET_KEY": SECRET}
    settings = load_settings(paths.example_config(), env=env)
    engine = make_engine(url)
    schema.upgrade(engine)
    now = datetime.now(UTC)
    event = {
        "event_id": "bench-1",
        "tracking_number": "RP000000001IT",
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": (now - timedelta(minutes=10)).isoformat(),
        "depot": "MI01",
        "next_attempt": {"date": (now + timedelta(days=1)).date().isoformat()},
        "recipient": {"name": "Giovanni Bianchi", "phone": "+39 333 123 4567", "locale": "it"},
        "sender": {"name": "Libreria Sant'Orsola"},
    }
    list(
        ingest(engine, [Incoming(0, event, json.dumps(event))], settings=settings, now=lambda: now)
    )
    with read_transaction(engine) as connection:
        ids = [row.id for row in connection.execute(SHIPMENTS.select())]
        key = settings.link_key
        (link,) = links.live_links(connection, ids, key=key, settings=settings, now=now).values()
    engine.dispose()
    return link.token


def _wait_until_up(port: int, server: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/bench/hello")
            if connection.getresponse().status == 200:
                return
        except OSError:
            threading.Event().wait(0.05)  # not up yet: a bounded pause between polls
    raise RuntimeError("the server did not start within 30 s")


def _load(port: int, path: str, seconds: float) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 in ms from CLIENTS keep-alive connections for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    failures: list[str] = []
    stop = time.monotonic() + seconds

    def client(mine: list[float]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(f"{path}: HTTP {response.status}")
                return
        connection.close()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in latencies]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    if failures:
        raise RuntimeError(failures[0])
    every = sorted(t for mine in latencies for t in mine)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))]
    return len(every) / elapsed, statistics.median(every) * 1000, p99 * 1000


def main(quick: bool) -> None:
    seconds = 3.0 if quick else 15.0
    with tempfile.TemporaryDirectory(prefix="notifier-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'rebook.db'}"
        token = _token(url)
        port = _free_port()
        env = {**os.environ, "NOTIFIER_SECRET_KEY": SECRET}
        command = [sys.executable, "-m", "benchmarks.rebook_server", url, str(port)]
        server = subprocess.Popen(command, env=env)
        try:
            _wait_until_up(port, server, time.monotonic() + 30)
            _load(port, f"/r/{token}", 1.0)  # warm both paths before measuring
            _load(port, "/bench/hello", 1.0)
            ours = _load(port, f"/r/{token}", seconds)
            ceiling = _load(port, "/bench/hello", seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    ratio = ours[0] / ceiling[0]
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"GET /r/{{token}} with {CLIENTS} keep-alive clients: ours {ours[0]:,.0f} req/s, "
        f"ceiling {ceiling[0]:,.0f} req/s, ratio {ratio:.2f} (target >= {TARGET_RATIO}) {verdict}"
    )
    record(
        "rebook", "GET /r/{token}", ours=ours[0], ceiling=ceiling[0], unit="requests/s",
        ratio=ratio, target=f">= {TARGET_RATIO}", met=ratio >= TARGET_RATIO,
    )  # fmt: skip
    print(f"  ours     p50 {ours[1]:5.1f} ms  p99 {ours[2]:5.1f} ms  the parcel page, SQLite")
    print(f"  ceiling  p50 {ceiling[1]:5.1f} ms  p99 {ceiling[2]:5.1f} ms  hello world, same app")
