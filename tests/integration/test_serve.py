"""`notifier run`, `serve` and `worker` as real processes: they start, answer, and stop cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from notifier import cli
from tests.conftest import REPO
from tests.integration.conftest import API_KEY, free_port, wait_until

NOTIFIER = Path(sys.executable).with_name("notifier")  # the installed console script
DEADLINE_SECONDS = 30.0
PERSON = {"name": "Zebedeo Quintavalle", "phone": "+39 333 765 4321", "email": "zq@example.it"}
PERSONAL_STRINGS = (*PERSON.values(), "Quintavalle", "3337654321")


def write_config(directory: Path, database_url: str) -> Path:
    """The shipped example configuration, pointed at the test's database."""
    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text, count = re.subn(
        r'^url = "sqlite:///notifier\.db"$',
        f"url = {json.dumps(database_url)}",
        example,
        flags=re.MULTILINE,
    )
    assert count == 1, "config.example.toml no longer has the [database] url line"
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Server:
    """One notifier process, its output in a file, stopped by a signal."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("wb") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [str(NOTIFIER), *args], env=env, stdout=output, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        assert self.process.poll() is None, (
            f"exited with {self.process.returncode}:\n{self.output()}"
        )
        return True

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=DEADLINE_SECONDS)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """start(*args, env={...}): a notifier process, killed at teardown if still running."""
    servers: list[Server] = []
    # The developer's own settings must not leak in (a database URL, Twilio credentials).
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "TWILIO_"))}

    def factory(*args: str, env: dict[str, str] | None = None) -> Server:
        log = tmp_path / f"{args[0]}-{len(servers)}.log"
        servers.append(server := Server(list(args), log, {**base, **(env or {})}))
        return server

    yield factory
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def request(
    port: int, path: str, body: Any = None, *, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    call = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(call, timeout=5) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    is_json = raw[:1] in (b"{", b"[")
    return status, json.loads(raw) if is_json else raw.decode()


def healthy(server: Server, port: int) -> dict[str, Any]:
    """Poll /healthz until it answers 200 (the scheduler, if any, having ticked)."""
    answer: dict[str, Any] = {}

    def ready() -> bool:
        server.alive()
        try:
            status, body = request(port, "/healthz")
        except (urllib.error.URLError, ConnectionError):
            return False  # not listening yet
        answer.update(body)
        return status == 200 and body.get("scheduler", {}).get("ticks", 1) >= 1

    wait_until(ready, what=f"/healthz on port {port}", timeout=DEADLINE_SECONDS)
    return answer


def event(event_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": "tms",
        "carrier": "rapido",
        "tracking_number": "RP123456789IT",
        "status": "IN_TRANSIT",
        "occurred_at": "2026-11-22T10:49:00+01:00",
        "recipient": PERSON,
        **changes,
    }


def post(port: int, body: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    return request(port, "/api/v1/events", body, headers=headers)


def stored_event_ids(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT event_id FROM status_events")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_serves_healthz_with_a_ticking_scheduler_and_stops_cleanly(
    start: Any, migrated_sqlite_url: str, tmp_path: Path, signum: int
) -> None:
    port = free_port()
    config = write_config(tmp_path, migrated_sqlite_url)
    server = start("run", "--config", str(config), "--port", str(port))

    body = healthy(server, port)

    assert body["database"] == "ok"
    assert body["schema"]["up_to_date"] is True
    assert body["scheduler"]["running"] is True
    assert body["scheduler"]["ticks"] >= 1
    assert body["scheduler"]["last_tick"]
    assert server.stop(signum) == 0
    output = server.output()
    assert "Application shutdown complete" in output
    assert "Scheduler has been shut down" in output
    assert "Traceback" not in output


def test_serve_stores_events_runs_no_scheduler_and_logs_no_personal_data(
    start: Any, migrated_sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    database = Path(migrated_sqlite_url.removeprefix("sqlite:///"))
    config = write_config(tmp_path, migrated_sqlite_url)
    server = start(
        "serve", "--config", str(config), "--port", str(port), env={"NOTIFIER_API_KEY": API_KEY}
    )

    assert "scheduler" not in healthy(server, port)
    status, answer = post(port, [event("evt-1"), event("evt-2", occurred_at="yesterday")])
    assert status == 200
    assert [r["result"] for r in answer["results"]] == ["stored", "rejected"]
    assert stored_event_ids(database) == ["evt-1"]
    token = "Hq3xL0fE6yYbqj2m9k0aBw"  # a link's token, as a scanner would try it
    assert request(port, f"/r/{token}")[0] == 404
    # Break the database under the running server: the failure's message quotes the
    # recipient's details, and none of it may reach the server's log.
    with sqlite3.connect(database) as connection:
        connection.execute("DROP TABLE contact_points")
    assert post(port, event("evt-3", tracking_number="RP2X")) == (500, {"error": "internal error"})
    assert request(port, "/")[0] == 200

    assert server.stop(signal.SIGTERM) == 0
    output = server.output()
    assert "unhandled error" in output
    assert "POST /api/v1/events" in output  # the access log is on: the check means something
    assert '"GET /r/… HTTP/1.1" 404' in output
    assert token not in output
    assert "INFO:     127.0.0.1" not in output  # no client address either
    assert 'INFO:     - - "GET /healthz' in output
    assert [value for value in PERSONAL_STRINGS if value in output] == []
    assert "Scheduler" not in output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_worker_ticks_until_signalled_then_stops_cleanly(
    start: Any, migrated_sqlite_url: str, tmp_path: Path, signum: int
) -> None:
    config = write_config(tmp_path, migrated_sqlite_url)
    server = start("worker", "--config", str(config))

    wait_until(
        lambda: server.alive() and "scheduler: running its jobs" in server.output(),
        what="the worker's first heartbeat",
        timeout=DEADLINE_SECONDS,
    )

    assert server.stop(signum) == 0
    output = server.output()
    assert "Scheduler has been shut down" in output
    assert "Traceback" not in output


def test_an_unmigrated_database_is_refused_saying_what_to_run(
    start: Any, sqlite_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sqlite_url)
    servers = {
        "run": start("run", "--config", str(config), "--port", str(free_port())),
        "serve": start("serve", "--config", str(config), "--port", str(free_port())),
        "worker": start("worker", "--config", str(config)),
    }
    for command, server in servers.items():
        assert server.process.wait(timeout=DEADLINE_SECONDS) == 2, command
        output = server.output()
        assert "notifier db upgrade" in output, command
        assert "empty database" in output, command
        assert "Traceback" not in output, command


# The wiring of run and serve, without a server: what uvicorn is asked to start.


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        uvicorn, "run", lambda app, **options: calls.append({"app": app, **options})
    )
    monkeypatch.delenv("NOTIFIER_DATABASE_URL", raising=False)
    return calls


@pytest.mark.parametrize(
    ("args", "host", "port"),
    [
        ([], "127.0.0.1", 8000),
        (["--host", "0.0.0.0", "--port", "9123"], "0.0.0.0", 9123),
    ],
    ids=["defaults", "given"],
)
@pytest.mark.parametrize("command", ["run", "serve"])
def test_run_and_serve_listen_where_told_with_loopback_8000_by_default(
    uvicorn_calls: list[dict[str, Any]],
    migrated_sqlite_url: str,
    tmp_path: Path,
    command: str,
    args: list[str],
    host: str,
    port: int,
) -> None:
    config = write_config(tmp_path, migrated_sqlite_url)
    result = CliRunner().invoke(cli.app, [command, "--config", str(config), *args])
    assert result.exit_code == 0, result.output
    (call,) = uvicorn_calls
    assert (call["host"], call["port"]) == (host, port)
    has_scheduler = call["app"].state.scheduler is not None
    assert has_scheduler is (command == "run")
    assert call["app"].state.engine.url.database == migrated_sqlite_url.removeprefix("sqlite:///")
