"""`notifier ingest`: the command as ops run it, on files, with its report and exit codes."""

from __future__ import annotations

import csv
import json
import os
import select as io_select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from notifier import paths
from notifier.cli import app
from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.db.models import ShipmentRow, StatusEventRow
from notifier.ingest.filecheck import MIN_PARALLEL_BYTES
from tests.integration.events import as_csv, as_jsonl, final_statuses, histories

runner = CliRunner()
MALFORMED_LINES = {101, 502, 999}


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(select(ShipmentRow.tracking_number, ShipmentRow.status))  # type: ignore[call-overload]
        return dict(rows.all())


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(StatusEventRow)).scalar_one()
        )


def ingest(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["ingest", *args], env={"NOTIFIER_DATABASE_URL": url})
    return result.exit_code, result.output


@pytest.fixture
def migrated(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def thousand_events_with_three_broken(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    events = histories(400)[:1000]
    assert len(events) == 1000
    lines = as_jsonl(events).splitlines(keepends=True)
    for number in MALFORMED_LINES:
        lines[number - 1] = lines[number - 1][: len(lines[number - 1]) // 2] + "\n"
    path = tmp_path / "events.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    good = [e for n, e in enumerate(events, start=1) if n not in MALFORMED_LINES]
    return path, good


def test_a_file_with_three_broken_lines_stores_the_rest_and_says_where(
    tmp_path: Path, database_url: str, migrated: Engine
) -> None:
    path, good = thousand_events_with_three_broken(tmp_path)
    report = tmp_path / "rejected.csv"

    code, output = ingest(database_url, str(path), "--report", str(report))

    assert code == 1
    assert "stored 997, duplicates 0, conflicts 0, rejected 3" in output
    for number in MALFORMED_LINES:
        assert f"{path}:{number}: " in output
    with report.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(int(r["line"]) for r in rows) == sorted(MALFORMED_LINES)
    assert all("not valid JSON" in r["reason"] for r in rows)
    assert stored(migrated) == 997
    assert statuses(migrated) == final_statuses(good)

    code, output = ingest(database_url, str(path))
    assert code == 1  # the three lines are still broken
    assert "stored 0, duplicates 997, conflicts 0, rejected 3" in output
    assert stored(migrated) == 997


def test_the_same_events_as_csv_give_the_same_shipments(
    tmp_path: Path, database_url: str, migrated: Engine
) -> None:
    events = histories(200)
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text(as_jsonl(events), encoding="utf-8")
    as_csv_path = tmp_path / "events.csv"
    as_csv_path.write_text(as_csv(events), encoding="utf-8")
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    schema.upgrade(other)

    assert ingest(database_url, str(jsonl))[0] == 0
    code, output = ingest(str(other.url), str(as_csv_path))

    assert code == 0, output
    assert statuses(other) == statuses(migrated) == final_statuses(events)
    assert stored(other) == stored(migrated) == len(events)
    other.dispose()


def test_format_can_be_forced_and_an_unreadable_file_does_not_stop_the_others(
    tmp_path: Path, database_url: str, migrated: Engine
) -> None:
    events = histories(5)
    data = tmp_path / "events.txt"
    data.write_text(as_jsonl(events), encoding="utf-8")

    code, output = ingest(
        database_url, str(tmp_path / "missing.jsonl"), str(data), "--format", "jsonl"
    )

    assert code == 1
    assert "missing.jsonl: cannot read" in output
    assert f"stored {len(events)}" in output
    assert stored(migrated) == len(events)


def test_a_csv_with_a_bad_header_is_refused_whole(
    tmp_path: Path, database_url: str, migrated: Engine
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,status\n1,CREATED\n", encoding="utf-8")
    code, output = ingest(database_url, str(path))
    assert code == 1
    assert "tracking_number" in " ".join(output.split())
    assert stored(migrated) == 0


def test_an_out_of_date_schema_is_refused_with_what_to_run(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(as_jsonl(histories(1)), encoding="utf-8")
    code, output = ingest(sqlite_url, str(path))
    assert code == 2
    assert "notifier db upgrade" in output


def test_killing_the_command_mid_file_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL while batches are committing; the same command again finishes the job."""
    events = histories(6000, seed=11)
    path = tmp_path / "events.jsonl"
    path.write_text(as_jsonl(events), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'notifier.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    config = tmp_path / "config.toml"
    config.write_text(
        paths.example_config()
        .read_text(encoding="utf-8")
        .replace("batch_size = 500", "batch_size = 50"),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "notifier", "ingest", str(path), "--config", str(config)]
    env = {**os.environ, "NOTIFIER_DATABASE_URL": url}

    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while stored(engine) < 500:  # wait until some batches are durably in
        assert process.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() < deadline, "no progress within 60 s"
        time.sleep(0.01)
    checkers = checkers_of(path)
    assert checkers, "a file this size is checked by a child process"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert all(ended_within(pid, seconds=10) for pid in checkers), "the checking child lives on"
    interrupted_at = stored(engine)
    assert 500 <= interrupted_at < len(events)

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    assert finished.returncode == 0, finished.stderr
    assert f"duplicates {interrupted_at}" in finished.stderr
    assert stored(engine) == len(events)
    assert statuses(engine) == final_statuses(events)
    engine.dispose()


def test_ctrl_c_stops_the_command_and_its_checking_child_and_loses_nothing(
    tmp_path: Path,
) -> None:
    events = histories(6000, seed=13)
    path = tmp_path / "events.jsonl"
    path.write_text(as_jsonl(events), encoding="utf-8")
    assert path.stat().st_size >= MIN_PARALLEL_BYTES  # checked by a child process
    url = f"sqlite:///{tmp_path / 'notifier.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    command = [sys.executable, "-m", "notifier", "ingest", str(path)]
    env = {**os.environ, "NOTIFIER_DATABASE_URL": url}

    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while stored(engine) < 500:
        assert process.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() < deadline, "no progress within 60 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=60)

    assert process.returncode == 130
    assert "interrupted" in errors
    assert not checkers_of(path), "the checking child outlived the command"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert stored(engine) == len(events)
    assert statuses(engine) == final_statuses(events)
    engine.dispose()


def ended_within(pid: int, *, seconds: float) -> bool:
    """Whether a process (not our child, so not waitable) exits within `seconds`."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = io_select.select([handle], [], [], seconds)  # readable once it exits
        return bool(ready)
    finally:
        os.close(handle)


def checkers_of(path: Path) -> list[int]:
    """Live `notifier.ingest.filecheck` processes reading this file, whoever their parent now is."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if (
            b"notifier.ingest.filecheck" in command
            and str(path).encode() in command
            and state != "Z"
        ):
            found.append(int(entry.name))
    return found


def test_summary_counts_unknown_statuses(
    tmp_path: Path, database_url: str, migrated: Engine
) -> None:
    events = histories(3)
    events[0]["status"] = "HANDED_TO_NEIGHBOUR"
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events), encoding="utf-8")
    code, output = ingest(database_url, str(path))
    assert code == 0
    assert "unknown statuses 1" in output


def test_an_event_id_reused_for_other_news_is_a_conflict_reported_with_its_line(
    migrated: Engine, tmp_path: Path
) -> None:
    url = migrated.url.render_as_string(hide_password=False)
    first = {
        "event_id": "tms-42",
        "source": "tms",
        "tracking_number": "RP123456789IT",
        "status": "OUT_FOR_DELIVERY",
        "occurred_at": "2026-11-22T08:00:00+01:00",
    }
    (tmp_path / "a.jsonl").write_text(json.dumps(first) + "\n", encoding="utf-8")
    assert ingest(url, str(tmp_path / "a.jsonl"))[0] == 0
    lines = [first, first | {"status": "DELIVERED"}]
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines), "utf-8")
    report = tmp_path / "report.csv"
    code, output = ingest(url, str(tmp_path / "b.jsonl"), "--report", str(report))
    assert code == 1
    assert "stored 0, duplicates 1, conflicts 1, rejected 0" in output
    assert "b.jsonl:2: event_id: stored before with another" in " ".join(output.split())
    with report.open(encoding="utf-8") as handle:
        (row,) = list(csv.reader(handle))[1:]
    assert row[1:4] == ["2", "tms-42", "event_id"]
    assert statuses(migrated) == {"RP123456789IT": "OUT_FOR_DELIVERY"}
