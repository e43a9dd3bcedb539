"""Checking a file in a child process gives exactly what checking it here gives."""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path

import pytest

from notifier.carriers.aftership import parse_aftership
from notifier.errors import InputFormatError
from notifier.ingest.checking import Checked, Incoming, ItemResult, check, check_payload
from notifier.ingest.filecheck import CHUNK_LINES, checked_in_child
from notifier.ingest.files import FileFormat, read_records
from tests.conftest import NOW
from tests.integration.events import as_csv, as_jsonl, histories
from tests.unit.carrier_payloads import own


def checked_here(path: Path, fmt: FileFormat) -> list[Checked | ItemResult]:
    with path.open("rb") as stream:
        return [
            check(Incoming(r.line, r.payload, r.raw, r.error), default_region="IT", now=NOW)
            for r in read_records(stream, fmt)
        ]


def checked_there(
    path: Path, fmt: FileFormat, progress: list[int] | None = None
) -> Generator[Checked | ItemResult, None, None]:
    seen = progress if progress is not None else []
    return checked_in_child(path, fmt, default_region="IT", now=lambda: NOW, progress=seen.append)


def a_file_with_bad_lines(tmp_path: Path) -> Path:
    events = histories(120)
    events[5]["recipient"]["phone"] = "02 1234 5678"  # a landline: kept, marked invalid
    events[7]["occurred_at"] = "yesterday"
    lines = as_jsonl(events).splitlines()
    lines[10] = lines[10][:40]  # cut short: not JSON
    lines.insert(20, "[1, 2]")  # JSON, but not an object
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_jsonl_file_checked_in_a_child_matches_checking_it_here(tmp_path: Path) -> None:
    path = a_file_with_bad_lines(tmp_path)
    progress: list[int] = []

    there = list(checked_there(path, FileFormat.JSONL, progress))

    here = checked_here(path, FileFormat.JSONL)
    assert there == here
    rejected = [r.position for r in there if isinstance(r, ItemResult)]
    assert rejected == [8, 11, 21]
    assert len(there) > 2 * CHUNK_LINES  # several chunks crossed the pipe
    assert progress == sorted(progress)
    assert progress[-1] == path.stat().st_size


def test_a_csv_file_checked_in_a_child_matches_checking_it_here(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(as_csv(histories(60)), encoding="utf-8")

    there = list(checked_there(path, FileFormat.CSV))

    assert there == checked_here(path, FileFormat.CSV)
    assert all(isinstance(item, Checked) for item in there)


def test_a_refused_csv_header_is_raised_here(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,status\n1,CREATED\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="tracking_number"):
        list(checked_there(path, FileFormat.CSV))


def test_stopping_early_ends_the_child(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(as_jsonl(histories(400)), encoding="utf-8")
    before = checker_processes()

    results = checked_there(path, FileFormat.JSONL)
    first = next(results)
    assert isinstance(first, Checked)
    assert checker_processes() - before, "the checking child is running"
    results.close()

    assert not (checker_processes() - before)


def test_a_child_that_dies_is_an_error_not_a_short_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(as_jsonl(histories(400)), encoding="utf-8")
    before = checker_processes()
    results = checked_there(path, FileFormat.JSONL)
    next(results)
    (child,) = checker_processes() - before
    os.kill(child, 9)

    with pytest.raises(RuntimeError, match="stopped"):
        list(results)


def checker_processes() -> set[int]:
    """Pids of running `python -m notifier.ingest.filecheck` children of this process."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        parent = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), 0
        )
        if (
            parent == os.getpid()
            and b"notifier.ingest.filecheck" in command
            and "State:\tZ" not in status
        ):
            found.add(int(entry.name))
    return found


def test_large_files_go_to_a_child_and_small_ones_do_not(tmp_path: Path) -> None:
    from notifier.ingest.filecheck import MIN_PARALLEL_BYTES, worth_a_process

    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"event_id": "1"}) + "\n", encoding="utf-8")
    large = tmp_path / "large.jsonl"
    large.write_bytes(b"\n" * MIN_PARALLEL_BYTES)
    assert not worth_a_process(small)
    assert worth_a_process(large)
    assert not worth_a_process(tmp_path / "missing.jsonl")


def test_a_file_the_child_cannot_read_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="cannot read"):
        list(checked_there(tmp_path / "gone.jsonl", FileFormat.JSONL))


def test_an_aggregator_array_checked_in_a_child_matches_checking_it_here(tmp_path: Path) -> None:
    payloads = [own("aftership_attempt_fail.json")[0], {"msg": "not a tracking"}]
    path = tmp_path / "aftership.json"
    path.write_text(json.dumps(payloads * 40, indent=1), encoding="utf-8")
    with path.open("rb") as stream:
        here = [
            result
            for r in read_records(stream, FileFormat.JSON)
            for result in check_payload(
                Incoming(r.line, r.payload, r.raw, r.error),
                parser=parse_aftership,
                default_region="IT",
                now=NOW,
            )
        ]
    there = checked_in_child(
        path, FileFormat.JSON, parser="aftership", default_region="IT", now=lambda: NOW,
        progress=[].append,
    )  # fmt: skip
    assert list(there) == here
    assert [type(r) for r in here[:2]] == [Checked, ItemResult]
