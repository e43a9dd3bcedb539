"""Two `notifier serve` processes sharing PROMETHEUS_MULTIPROC_DIR: either one's /metrics
sums both; and their JSON logs, one object a line, with no token in the access lines."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from notifier import cli
from tests.conftest import REPO
from tests.integration.conftest import API_KEY, free_port
from tests.integration.test_serve import Server, event, healthy, post, request, write_config

TOKEN = "Zq8RkT2mW9xY4bN7cV1dF3"  # shaped like a link's token; the server knows none such


@pytest.fixture
def serve(tmp_path: Path, migrated_sqlite_url: str) -> Iterator[Any]:
    """serve(): a `notifier serve` on its own port, JSON logs, the shared metrics folder."""
    config = write_config(tmp_path, migrated_sqlite_url)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "TWILIO_"))}
    env = {
        **base,
        "NOTIFIER_API_KEY": API_KEY,
        "NOTIFIER_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    servers: list[Server] = []

    def factory() -> tuple[Server, int]:
        port = free_port()
        log = tmp_path / f"serve-{len(servers)}.log"
        args = ["serve", "--config", str(config), "--port", str(port)]
        servers.append(server := Server(args, log, env))
        healthy(server, port)
        return server, port

    yield factory
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def stored_tms(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "notifier_events_total" and labels == {
                "result": "stored",
                "status": "IN_TRANSIT",
                "source": "tms",
            }:
                return sample.value
    return 0.0


@pytest.mark.slow
def test_each_replica_reports_the_sum_of_both(serve: Any) -> None:
    first, first_port = serve()
    second, second_port = serve()

    assert post(first_port, event("evt-p1"))[0] in (200, 207)
    assert post(second_port, [event("evt-p2"), event("evt-p3")])[0] in (200, 207)

    for port in (first_port, second_port):
        status, text = request(port, "/metrics")
        assert status == 200
        assert stored_tms(text) == 3
        assert "RP123456789IT" not in text
    first.alive()
    second.alive()


@pytest.mark.slow
def test_json_logs_are_one_object_a_line_without_tokens(serve: Any) -> None:
    server, port = serve()
    request(port, f"/r/{TOKEN}?lang=en")
    request(port, f"/u/{TOKEN}")
    assert server.stop(2) == 0  # SIGINT: uvicorn flushes and exits

    lines = [line for line in server.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line: a JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    paths = [r["path"] for r in access]
    assert "/r/…?lang=…" in paths
    assert "/u/…" in paths
    assert all(r["status"] in (200, 404, 410) for r in access if r["path"].startswith("/r/"))
    assert TOKEN not in server.output()


def test_a_metrics_folder_that_is_missing_stops_the_start(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    config = str(REPO / "config.example.toml")
    result = CliRunner().invoke(
        cli.app, ["serve", "--config", config], env={"PROMETHEUS_MULTIPROC_DIR": str(missing)}
    )
    assert result.exit_code == 2, result.output
    assert f"PROMETHEUS_MULTIPROC_DIR={missing} is not a writable directory" in result.output
