"""`notifier run`, `serve` and `worker` as real processes: they start, answer, and stop cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notifier import schema
from notifier.db import make_engine

DEADLINE_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def migrated_url(sqlite_url: str) -> str:
    engine = make_engine(sqlite_url)
    schema.upgrade(engine)
    engine.dispose()
    return sqlite_url


def start(command: list[str], url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NOTIFIER_DATABASE_URL": url}
    with (tmp_path / "server.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "notifier", *command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def healthz(port: int, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Poll until the server answers 200 (or fail at the deadline, or if it dies)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                body: dict[str, Any] = json.load(answer)
                if answer.status == 200 and body.get("scheduler", {}).get("ticks", 1):
                    return body
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, "no healthy answer within the deadline"
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=DEADLINE_SECONDS)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_serves_healthz_with_a_ticking_scheduler_and_stops_on_sigint(
    migrated_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    processes.append(process := start(["run", "--port", str(port)], migrated_url, tmp_path))
    body = healthz(port, process)
    assert body["database"] == "ok"
    assert body["schema"]["up_to_date"] is True
    assert body["scheduler"]["running"] is True
    assert body["scheduler"]["ticks"] >= 1
    assert stop(process) == 0


def test_serve_runs_no_scheduler(
    migrated_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    processes.append(process := start(["serve", "--port", str(port)], migrated_url, tmp_path))
    assert "scheduler" not in healthz(port, process)
    assert stop(process) == 0


def test_worker_starts_and_stops_on_sigint(
    migrated_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    processes.append(process := start(["worker"], migrated_url, tmp_path))
    log = tmp_path / "server.log"
    deadline = time.monotonic() + DEADLINE_SECONDS
    while "Scheduler started" not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert stop(process) == 0


@pytest.mark.parametrize("command", ["run", "serve", "worker"])
def test_an_unmigrated_database_is_refused_with_what_to_run(
    command: str, sqlite_url: str, tmp_path: Path
) -> None:
    process = start(
        [command, "--port", str(free_port())] if command != "worker" else [command],
        sqlite_url,
        tmp_path,
    )
    assert process.wait(timeout=DEADLINE_SECONDS) == 2
    assert "notifier db upgrade" in (tmp_path / "server.log").read_text()
