"""The inbox folder (issue 15, item 2): a dropped file, and one written slowly, is ingested
exactly once and moved to done/; a file with bad lines goes to rejected/ with its report
while its good lines are stored; two workers never take the same file; a database fault
leaves the file to retry. Time is an input: passes are given `now`, nothing sleeps."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from notifier import jobs, paths
from notifier.cli import app
from notifier.config import Settings
from notifier.config.loading import settings_from_data
from notifier.db import schema
from notifier.db.engine import make_engine, read_transaction
from notifier.db.tables import EVENTS
from notifier.errors import ConfigError
from notifier.ingest.inbox import RECLAIM_AFTER, Inbox, claim_name
from notifier.scheduler import build_scheduler
from tests.conftest import BASE_CONFIG, NOW, TEST_SECRET_KEY, EventFactory, make_settings
from tests.integration.conftest import wait_until
from tests.integration.test_database_faults import held_by_another_writer
from tests.unit.carrier_payloads import own

STABLE = 10.0
LATER = NOW + timedelta(seconds=STABLE)


def inbox_settings(engine: Engine, inbox: Path) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    return make_settings(url, ingest={"inbox_dir": str(inbox), "inbox_stable_seconds": STABLE})


@pytest.fixture
def inbox_dir(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


@pytest.fixture
def inbox(engine: Engine, inbox_dir: Path) -> Inbox:
    return Inbox(root=inbox_dir, engine=engine, settings=inbox_settings(engine, inbox_dir))


def write_lines(path: Path, lines: list[str], mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        handle.writelines(f"{line}\n" for line in lines)


def events(make_event: EventFactory, count: int) -> list[str]:
    return [json.dumps(make_event()) for _ in range(count)]


def stored(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return int(connection.execute(select(func.count()).select_from(EVENTS)).scalar_one())


def report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_name(path.name + ".report.json").read_text())
    return data


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_dropped_file_is_ingested_once_and_moved_to_done_with_its_report(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    write_lines(inbox_dir / "depot-mi01.jsonl", events(make_event, 3))

    first = inbox.run_once(NOW)
    assert (first.filed, first.waiting) == ([], 1)  # first sight: not yet known stable
    assert stored(engine) == 0

    second = inbox.run_once(LATER)
    assert [(f.name, f.folder) for f in second.filed] == [("depot-mi01.jsonl", "done")]
    assert stored(engine) == 3
    assert names(inbox_dir / "done") == ["depot-mi01.jsonl", "depot-mi01.jsonl.report.json"]
    assert names(inbox_dir / "processing") == []
    assert not (inbox_dir / "depot-mi01.jsonl").exists()
    written = report(inbox_dir / "done" / "depot-mi01.jsonl")
    assert (written["stored"], written["duplicates"], written["rejected"]) == (3, 0, 0)
    assert written["refused_lines"] == []

    again = inbox.run_once(LATER + timedelta(minutes=5))
    assert again.filed == []
    assert stored(engine) == 3


def test_a_file_written_slowly_is_taken_only_once_stable_with_all_its_lines(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    path = inbox_dir / "slow.jsonl"
    lines = events(make_event, 4)
    write_lines(path, lines[:1])
    at = NOW
    for line in lines[1:]:
        for step in (0.0, STABLE - 1):  # each part stays put for less than STABLE
            result = inbox.run_once(at + timedelta(seconds=step))
            assert result.filed == [], f"taken while still being written ({step} s)"
        write_lines(path, [line], mode="a")
        at += timedelta(seconds=STABLE - 0.5)
    assert stored(engine) == 0
    assert path.exists()

    assert inbox.run_once(at).filed == []  # the last append is seen here for the first time
    result = inbox.run_once(at + timedelta(seconds=STABLE))
    assert [f.name for f in result.filed] == ["slow.jsonl"]
    assert result.filed[0].summary.stored == 4
    assert stored(engine) == 4
    assert inbox.run_once(at + timedelta(seconds=3 * STABLE)).filed == []
    assert names(inbox_dir / "done") == ["slow.jsonl", "slow.jsonl.report.json"]


def test_a_done_marker_makes_a_file_ready_at_once_and_is_consumed(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    columns = ("event_id", "tracking_number", "status", "occurred_at")
    rows = [",".join(str(event[c]) for c in columns) for event in (make_event(), make_event())]
    write_lines(inbox_dir / "export.csv", [",".join(columns), *rows])
    (inbox_dir / "export.csv.done").touch()

    result = inbox.run_once(NOW)
    assert [(f.name, f.folder) for f in result.filed] == [("export.csv", "done")]
    assert stored(engine) == 2
    assert not (inbox_dir / "export.csv.done").exists()
    assert names(inbox_dir) == ["done", "processing", "rejected"]


def test_a_marker_older_than_the_file_speaks_for_an_earlier_file(
    inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    path = inbox_dir / "export.jsonl"
    write_lines(path, events(make_event, 1))
    marker = inbox_dir / "export.jsonl.done"
    marker.touch()
    mtime = marker.stat().st_mtime_ns
    os.utime(path, ns=(mtime + 5_000_000_000, mtime + 5_000_000_000))

    assert inbox.run_once(NOW).filed == []
    assert path.exists()


def test_a_file_with_bad_lines_goes_to_rejected_with_its_report_and_its_good_lines_are_stored(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    no_tracking = make_event(tracking_number=None)
    no_tracking["recipient"]["name"] = "Ottavia Riservata"
    lines = [
        json.dumps(make_event()),
        '{"event_id": "broken", "recipient": {"phone": "+39 333 999 8888"',
        json.dumps(make_event()),
        json.dumps(no_tracking),
        json.dumps(make_event()),
    ]
    write_lines(inbox_dir / "mixed.jsonl", lines)
    (inbox_dir / "mixed.jsonl.done").touch()

    result = inbox.run_once(NOW)
    assert [(f.name, f.folder) for f in result.filed] == [("mixed.jsonl", "rejected")]
    assert stored(engine) == 3
    assert names(inbox_dir / "done") == []
    assert names(inbox_dir / "rejected") == ["mixed.jsonl", "mixed.jsonl.report.json"]
    written = report(inbox_dir / "rejected" / "mixed.jsonl")
    assert (written["stored"], written["rejected"]) == (3, 2)
    refused = {line["line"]: line for line in written["refused_lines"]}
    assert sorted(refused) == [2, 4]
    assert "not valid JSON" in refused[2]["errors"][0]["reason"]
    assert [e["field"] for e in refused[4]["errors"]] == ["tracking_number"]
    assert refused[4]["event_id"] == no_tracking["event_id"]
    text = (inbox_dir / "rejected" / "mixed.jsonl.report.json").read_text()
    assert "Riservata" not in text
    assert "999 8888" not in text
    # The file itself is kept whole for whoever fixes it.
    assert (inbox_dir / "rejected" / "mixed.jsonl").read_text().splitlines() == lines


def test_a_file_that_cannot_be_read_goes_to_rejected_saying_why(
    engine: Engine, inbox: Inbox, inbox_dir: Path
) -> None:
    # A .csv that is really JSON: its "header" names none of the required columns.
    write_lines(inbox_dir / "wrong.csv", ['{"event_id": "x"}'])
    (inbox_dir / "wrong.csv.done").touch()

    # Not text at all: every line is refused, saying why.
    (inbox_dir / "latin1.jsonl").write_bytes(b'{"event_id": "caf\xe9"}\n\xff\xfe\n')
    (inbox_dir / "latin1.jsonl.done").touch()

    result = inbox.run_once(NOW)
    assert sorted((f.name, f.folder) for f in result.filed) == [
        ("latin1.jsonl", "rejected"),
        ("wrong.csv", "rejected"),
    ]
    written = report(inbox_dir / "rejected" / "wrong.csv")
    assert "required column" in written["error"]
    assert written["stored"] == 0
    garbled = report(inbox_dir / "rejected" / "latin1.jsonl")
    assert [line["line"] for line in garbled["refused_lines"]] == [1, 2]
    assert all("not UTF-8" in line["errors"][0]["reason"] for line in garbled["refused_lines"])
    assert stored(engine) == 0


def test_a_name_already_taken_in_done_gets_a_new_one_and_nothing_is_overwritten(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    first, second = events(make_event, 2), events(make_event, 3)
    for lines in (first, second):
        write_lines(inbox_dir / "daily.jsonl", lines)
        (inbox_dir / "daily.jsonl.done").touch()
        assert len(inbox.run_once(NOW).filed) == 1

    done = inbox_dir / "done"
    assert names(done) == [
        "daily-2.jsonl",
        "daily-2.jsonl.report.json",
        "daily.jsonl",
        "daily.jsonl.report.json",
    ]
    assert (done / "daily.jsonl").read_text().splitlines() == first
    assert (done / "daily-2.jsonl").read_text().splitlines() == second
    assert report(done / "daily-2.jsonl")["stored"] == 3
    assert stored(engine) == 5


def test_temporary_hidden_and_other_files_are_left_alone(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    ignored = [".hidden.jsonl", "~lock.csv", "upload.jsonl.part", "export.csv.tmp", "notes.txt"]
    for name in ignored:
        write_lines(inbox_dir / name, events(make_event, 1))
        (inbox_dir / f"{name}.done").touch()

    for seconds in (0, STABLE, 10 * STABLE):
        assert inbox.run_once(NOW + timedelta(seconds=seconds)).filed == []
    assert stored(engine) == 0
    assert set(names(inbox_dir)) == {
        *ignored,
        *(f"{name}.done" for name in ignored),
        "done",
        "processing",
        "rejected",
    }


def test_two_workers_racing_over_one_folder_ingest_each_file_exactly_once(
    engine: Engine, inbox_dir: Path, make_event: EventFactory
) -> None:
    files, per_file = 12, 5
    for number in range(files):
        write_lines(inbox_dir / f"part-{number:02d}.jsonl", events(make_event, per_file))
    settings = inbox_settings(engine, inbox_dir)
    workers = [Inbox(root=inbox_dir, engine=engine, settings=settings) for _ in range(2)]
    for worker in workers:
        worker.run_once(NOW)  # both have seen every file: both will want them all
    start = threading.Barrier(len(workers))
    passes: list[Any] = []
    failures: list[BaseException] = []

    def run(worker: Inbox) -> None:
        start.wait()
        try:
            passes.append(worker.run_once(LATER))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert not any(t.is_alive() for t in threads)

    filed = [f for one in passes for f in one.filed]
    assert sorted(f.name for f in filed) == [f"part-{n:02d}.jsonl" for n in range(files)]
    assert stored(engine) == files * per_file
    done = inbox_dir / "done"
    assert len(names(done)) == 2 * files
    reports = [report(done / f"part-{n:02d}.jsonl") for n in range(files)]
    assert [(r["stored"], r["duplicates"]) for r in reports] == [(per_file, 0)] * files
    assert names(inbox_dir / "processing") == []


def test_under_a_database_fault_the_file_waits_in_processing_and_is_retried(
    engine: Engine, inbox_dir: Path, make_event: EventFactory
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    quick = make_engine(url, lock_timeout_seconds=0.5)
    try:
        inbox = Inbox(root=inbox_dir, engine=quick, settings=inbox_settings(engine, inbox_dir))
        write_lines(inbox_dir / "during-outage.jsonl", events(make_event, 3))
        (inbox_dir / "during-outage.jsonl.done").touch()

        with held_by_another_writer(engine):
            result = inbox.run_once(NOW)
        assert (result.filed, result.deferred) == ([], ["during-outage.jsonl"])
        assert names(inbox_dir / "rejected") == []
        assert names(inbox_dir / "done") == []
        [waiting] = names(inbox_dir / "processing")
        assert waiting.startswith("during-outage.jsonl.")
        assert stored(engine) == 0

        result = inbox.run_once(NOW + timedelta(seconds=15))
        assert [(f.name, f.folder) for f in result.filed] == [("during-outage.jsonl", "done")]
        assert stored(engine) == 3
        assert names(inbox_dir / "processing") == []
    finally:
        quick.dispose()


def test_a_claim_left_by_a_dead_worker_is_taken_again_after_a_generous_while(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory
) -> None:
    lines = events(make_event, 2)
    (inbox_dir / "processing").mkdir()
    write_lines(inbox_dir / "processing" / claim_name("orphan.jsonl", NOW), lines)

    assert inbox.run_once(NOW + RECLAIM_AFTER / 2).filed == []
    assert stored(engine) == 0
    result = inbox.run_once(NOW + RECLAIM_AFTER)
    assert [(f.name, f.folder) for f in result.filed] == [("orphan.jsonl", "done")]
    assert stored(engine) == 2
    assert (inbox_dir / "done" / "orphan.jsonl").read_text().splitlines() == lines


def test_an_aggregator_subfolder_is_read_with_that_aggregator_parser(
    engine: Engine, inbox: Inbox, inbox_dir: Path
) -> None:
    payload, _ = own("aftership_attempt_fail.json")
    (inbox_dir / "aftership").mkdir()
    write_lines(inbox_dir / "aftership" / "hooks.jsonl", [json.dumps(payload)])
    (inbox_dir / "aftership" / "hooks.jsonl.done").touch()

    result = inbox.run_once(NOW)
    assert [(f.name, f.folder) for f in result.filed] == [("hooks.jsonl", "done")]
    assert result.filed[0].summary.stored >= 1
    assert stored(engine) == result.filed[0].summary.stored
    assert names(inbox_dir / "aftership" / "done") == ["hooks.jsonl", "hooks.jsonl.report.json"]
    assert report(inbox_dir / "aftership" / "done" / "hooks.jsonl")["parser"] == "aftership"


def test_the_job_logs_file_names_and_counts_only(
    engine: Engine, inbox: Inbox, inbox_dir: Path, make_event: EventFactory, caplog: Any
) -> None:
    event = make_event()
    write_lines(inbox_dir / "logged.jsonl", [json.dumps(event), "not json"])
    (inbox_dir / "logged.jsonl.done").touch()

    with caplog.at_level(logging.INFO, logger="notifier.jobs"):
        jobs.watch_inbox(inbox)
    [line] = [r.getMessage() for r in caplog.records if r.name == "notifier.jobs"]
    assert "logged.jsonl -> rejected/logged.jsonl" in line
    assert "stored 1" in line
    assert "rejected 1" in line
    assert event["recipient"]["phone"] not in line
    assert event["tracking_number"] not in line


def config_problems(tmp_path: Path, ingest: dict[str, Any]) -> list[str]:
    data = {**BASE_CONFIG, "ingest": ingest}
    with pytest.raises(ConfigError) as caught:
        settings_from_data(data, source="test", env={}, base_dir=tmp_path)
    return [str(p) for p in caught.value.problems]


def test_a_relative_inbox_dir_is_read_from_the_config_file_folder(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    data = {**BASE_CONFIG, "ingest": {"inbox_dir": "drop"}}
    env = {"NOTIFIER_SECRET_KEY": TEST_SECRET_KEY}
    settings = settings_from_data(data, source="test", env=env, base_dir=tmp_path)
    assert settings.ingest.inbox_dir == tmp_path / "drop"
    assert Settings.model_validate(BASE_CONFIG).ingest.inbox_dir is None


@pytest.mark.parametrize(
    ("ingest", "words"),
    [
        ({"inbox_dir": "nowhere"}, "is not a directory"),
        ({"inbox_dir": " "}, "name the inbox folder"),
        ({"inbox_stable_seconds": 0}, "greater than or equal to 1"),
        ({"inbox_interval_seconds": 0.5}, "greater than or equal to 1"),
    ],
    ids=["missing-folder", "blank", "stable-zero", "interval-too-short"],
)
def test_inbox_settings_are_checked_with_clear_errors(
    tmp_path: Path, ingest: dict[str, Any], words: str
) -> None:
    problems = config_problems(tmp_path, ingest)
    key = next(iter(ingest))
    assert any(f"ingest.{key}" in p and words in p for p in problems), problems


def test_notifier_inbox_once_takes_what_is_ready_and_says_so_by_its_exit_code(
    tmp_path: Path, sqlite_url: str, make_event: EventFactory
) -> None:
    engine = make_engine(sqlite_url)
    schema.upgrade(engine)
    text = paths.example_config().read_text(encoding="utf-8")
    assert '# inbox_dir = "inbox"\n' in text
    config = tmp_path / "config.toml"
    config.write_text(text.replace('# inbox_dir = "inbox"\n', 'inbox_dir = "drop"\n'))
    drop = tmp_path / "drop"
    drop.mkdir()
    write_lines(drop / "good.jsonl", events(make_event, 2))
    (drop / "good.jsonl.done").touch()
    env = {"NOTIFIER_DATABASE_URL": sqlite_url}
    runner = CliRunner()

    first = runner.invoke(app, ["inbox", "--once", "--config", str(config)], env=env)
    assert first.exit_code == 0, first.output
    assert names(drop / "done") == ["good.jsonl", "good.jsonl.report.json"]

    write_lines(drop / "bad.jsonl", ["not json"])
    (drop / "bad.jsonl.done").touch()
    second = runner.invoke(app, ["inbox", "--once", "--config", str(config)], env=env)
    assert second.exit_code == 1, second.output
    assert names(drop / "rejected") == ["bad.jsonl", "bad.jsonl.report.json"]
    assert stored(engine) == 2
    engine.dispose()

    without = runner.invoke(app, ["inbox", "--config", str(config)], env=env)
    assert without.exit_code == 2


def test_the_worker_scheduler_watches_the_inbox_when_it_is_set(
    tmp_path: Path, sqlite_url: str, make_event: EventFactory
) -> None:
    engine = make_engine(sqlite_url)
    schema.upgrade(engine)
    drop = tmp_path / "drop"
    drop.mkdir()
    write_lines(drop / "scheduled.jsonl", events(make_event, 2))
    (drop / "scheduled.jsonl.done").touch()
    scheduler = build_scheduler(inbox_settings(engine, drop), engine)
    scheduler.start()
    try:
        wait_until(lambda: (drop / "done" / "scheduled.jsonl").exists(), what="the inbox job")
    finally:
        scheduler.shutdown()
    assert stored(engine) == 2
    engine.dispose()
