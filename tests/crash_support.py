"""Crash-safety harness: a recording SMS provider, real worker processes, many due messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import Engine, select, text

from notifier.config import Settings
from notifier.db.tables import OUTBOX
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from tests.conftest import TEST_SECRET_KEY

ACCOUNT_SID = "AC" + "5" * 32
WORKER_STOP_SECONDS = 30.0


@dataclass(frozen=True)
class Accepted:
    """One message the provider took: what it was told, the sid it gave, and when."""

    sid: str
    to: str
    body: str
    at: float  # time.monotonic()


@dataclass
class SmsProvider:
    """Twilio's Messages API as far as a sender sees it, keeping every message it accepted.

    `delay` seconds per request stand for the provider's own latency (a slow send keeps a
    worker's batch in flight long enough to be caught there by a signal).
    """

    url: str = ""
    delay: float = 0.0
    accepted: list[Accepted] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def snapshot(self) -> list[Accepted]:
        with self._lock:
            return list(self.accepted)

    def accept(self, to: str, body: str) -> str:
        with self._lock:
            sid = f"SM{len(self.accepted) + 1:032x}"
            self.accepted.append(Accepted(sid, to, body, time.monotonic()))
            return sid


def _handler(provider: SmsProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client's session reuses connections
        # Headers and body leave in two writes: with Nagle's algorithm the body waits for
        # the client's delayed ACK, 40 ms a message.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if len(raw) < length:
                # The client died mid-request (a SIGKILLed worker): like any HTTP server,
                # a provider takes no message from half a request.
                self.close_connection = True
                return
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if provider.delay:
                threading.Event().wait(provider.delay)  # the provider's latency
            sid = provider.accept(form.get("To", ""), form.get("Body", ""))
            body = {
                "sid": sid,
                "status": "queued",
                "to": form.get("To"),
                "body": form.get("Body"),
                "account_sid": ACCOUNT_SID,
                "num_segments": "1",
            }
            payload = json.dumps(body).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A worker killed mid-request leaves its connection reset: expected here, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def running_provider(delay: float = 0.0) -> Iterator[SmsProvider]:
    provider = SmsProvider(delay=delay)
    server = _Server(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- configuration


def _quiet_hours_away_from(now: datetime) -> tuple[str, str]:
    """An hour of quiet ten hours from now (UTC): no recipient within nine hours of UTC is
    in it while the test runs, whatever the time of day the suite runs at."""
    start = (now + timedelta(hours=10)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}", f"{end:%H:%M}"


def write_worker_config(
    path: Path,
    *,
    database_url: str,
    sms_url: str,
    batch_size: int,
    interval_seconds: float = 0.2,
    lease_seconds: int = 10,
    concurrency: int = 1,
) -> Path:
    quiet_start, quiet_end = _quiet_hours_away_from(datetime.now(UTC))
    s = json.dumps
    path.write_text(
        f"""
[company]
name = "Rapido Consegne"
phone = "+39 02 1234 5678"
email = "assistenza@rapido.example"
website = "https://rapido.example"
rebooking_base_url = "https://rapido.example/r/"
default_locale = "it"
default_phone_region = "IT"
timezone = "Europe/Rome"

[company.phone_hours]
mon = "08:00-20:00"

[[depots]]
code = "MI01"
name = "Milano Nord"
address = "Via Esempio 12, Milano"

[database]
url = {s(database_url)}

[dispatch]
interval_seconds = {interval_seconds}
batch_size = {batch_size}
lease_seconds = {lease_seconds}
concurrency = {concurrency}
retry_base_seconds = 1
retry_max_seconds = 2

[channels.sms]
transport = "twilio"
from_number = "+390212345678"
api_base_url = {s(sms_url)}

[quiet_hours]
start = {s(quiet_start)}
end = {s(quiet_end)}
""",
        encoding="utf-8",
    )
    return path


# ---------------------------------------------------------------- seeding


def phone(n: int) -> str:
    """The n-th recipient's number, in E.164 as the outbox stores it and Twilio is told."""
    return f"+39333{n // 10000:03d}{n % 10000:04d}"


def seed(engine: Engine, settings: Settings, count: int, now: datetime) -> None:
    """`count` parcels just received, each owing one SMS to its own number, due now."""
    occurred = (now - timedelta(minutes=1)).isoformat()
    events = [
        {
            "event_id": f"crash-{n}",
            "source": "tms",
            "carrier": "rapido",
            "tracking_number": f"RP{n:09d}IT",
            "status": "CREATED",
            "occurred_at": occurred,
            "depot": "MI01",
            "recipient": {"name": f"Cliente {n}", "phone": phone(n), "locale": "it"},
        }
        for n in range(count)
    ]
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    results = list(ingest(engine, items, settings=settings, now=lambda: now, batch_size=1000))
    assert len(results) == count
    assert outbox_states(engine) == {"pending": count}


# ---------------------------------------------------------------- reading the outcome


@dataclass(frozen=True)
class Row:
    id: int
    recipient: str
    state: str
    provider_id: str | None
    leased_by: str | None


def outbox_rows(engine: Engine) -> list[Row]:
    query = select(
        OUTBOX.c.id, OUTBOX.c.recipient, OUTBOX.c.state, OUTBOX.c.provider_id, OUTBOX.c.leased_by
    ).order_by(OUTBOX.c.id)
    with engine.connect() as connection:
        return [Row(*row) for row in connection.execute(query)]


def outbox_states(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT state, count(*) FROM outbox GROUP BY state"))
        return {state: int(n) for state, n in found}


def all_sent(engine: Engine, count: int) -> bool:
    return outbox_states(engine) == {"sent": count}


def frozen_holding_rows(engine: Engine, worker: Worker) -> bool:
    """Freeze the worker; True if it holds rows now, else thaw it to be tried again."""
    worker.freeze()
    if held_by(engine, worker.pid):
        return True
    worker.thaw()
    return False


def held_by(engine: Engine, pid: int) -> set[int]:
    """Rows `sending` under the lease of the worker process `pid` (its id names the pid)."""
    query = select(OUTBOX.c.id).where(
        OUTBOX.c.state == "sending", OUTBOX.c.leased_by.like(f"%:{pid}:%")
    )
    with engine.connect() as connection:
        return set(connection.execute(query).scalars())


@dataclass(frozen=True)
class Deliveries:
    """What the provider accepted, per outbox row, beside what the outbox says."""

    sends: dict[int, list[Accepted]]  # outbox id -> every message the provider took for it
    rows: list[Row]

    @property
    def duplicated(self) -> set[int]:
        return {row_id for row_id, sends in self.sends.items() if len(sends) > 1}

    @property
    def unsent(self) -> set[int]:
        return {row_id for row_id, sends in self.sends.items() if not sends}

    def mismatched(self) -> list[int]:
        """Rows whose recorded provider_id is not a sid the provider gave for that row."""
        return [
            row.id
            for row in self.rows
            if row.provider_id not in {a.sid for a in self.sends[row.id]}
        ]


def deliveries(engine: Engine, provider: SmsProvider) -> Deliveries:
    rows = outbox_rows(engine)
    by_number: dict[str, list[Accepted]] = {}
    for accepted in provider.snapshot():
        by_number.setdefault(accepted.to, []).append(accepted)
    recipients = Counter(row.recipient for row in rows)
    assert max(recipients.values()) == 1, "each row needs a number of its own"
    strays = set(by_number) - set(recipients)
    assert not strays, f"the provider got messages for numbers no row has: {sorted(strays)[:5]}"
    return Deliveries({row.id: by_number.get(row.recipient, []) for row in rows}, rows)


# ---------------------------------------------------------------- worker processes


def worker_environment(provider_url: str) -> dict[str, str]:
    # The developer's own settings must not leak in (a database URL, Twilio credentials).
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "TWILIO_"))}
    return {
        **base,
        "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": "crash-test-token",
    }


class Worker:
    """One `notifier worker` process, its output in a file."""

    def __init__(self, config: Path, log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("wb") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "notifier", "worker", "--config", str(config)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        code = self.process.poll()
        assert code is None, f"worker {self.pid} exited with {code}:\n{self.output()[-4000:]}"
        return True

    def freeze(self) -> None:
        """SIGSTOP: it holds still, mid-batch or not, while the test looks at its rows."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WORKER_STOP_SECONDS)

    def terminate(self) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took to exit.

        Never sent to a worker frozen or just thawed: the signal may then go to a thread
        other than the main one, and `notifier worker` waits for it there in an untimed
        `stop.wait()` that such a signal does not interrupt: it never stops.
        """
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=WORKER_STOP_SECONDS + 5)
        return code, time.monotonic() - started


class Workers:
    """Starts workers on one configuration; kills any still running at the end."""

    def __init__(self, config: Path, logs: Path, env: dict[str, str]) -> None:
        self.config, self.logs, self.env = config, logs, env
        self.started: list[Worker] = []

    def start(self) -> Worker:
        log = self.logs / f"worker-{len(self.started)}.log"
        worker = Worker(self.config, log, self.env)
        self.started.append(worker)
        return worker

    def running(self) -> list[Worker]:
        return [w for w in self.started if w.process.poll() is None]

    def stop_all(self) -> None:
        for worker in self.running():
            worker.process.kill()
            worker.process.wait(timeout=WORKER_STOP_SECONDS)
