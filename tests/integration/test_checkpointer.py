"""The import's WAL checkpoints, run from a thread of their own."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine

from notifier import schema
from notifier.checkpointer import WalCheckpointer
from notifier.db import make_engine, write_transaction


def a_log_of_rows(engine: Engine, count: int) -> None:
    with write_transaction(engine) as connection:
        connection.exec_driver_sql(
            "INSERT INTO opt_outs (channel, address, reason, created_at) VALUES (?, ?, ?, ?)",
            [("sms", f"+39333{n:07d}", "STOP", "2026-11-30 12:00:00.000000") for n in range(count)],
        )


def rows_in_the_file_alone(path: Path, tmp_path: Path) -> int:
    """Count rows in a copy of the database file without its -wal log."""
    copy = tmp_path / "alone.db"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as connection:
        return int(connection.execute("SELECT count(*) FROM opt_outs").fetchone()[0])


def test_a_pass_moves_the_log_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "notifier.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    # Upgrading checkpointed on close; new rows now live only in the log.
    engine = make_engine(f"sqlite:///{path}")
    a_log_of_rows(engine, 2000)
    assert rows_in_the_file_alone(path, tmp_path) == 0

    connection = engine.raw_connection()
    try:
        logged, copied = WalCheckpointer.checkpoint(connection.cursor())
    finally:
        connection.close()

    assert logged > 0
    assert copied == logged
    assert rows_in_the_file_alone(path, tmp_path) == 2000
    engine.dispose()


def test_the_thread_runs_only_inside_the_block(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    schema.upgrade(engine)
    checkpointer = WalCheckpointer(engine)
    with checkpointer:
        assert checkpointer.running
        a_log_of_rows(engine, 100)
    assert not checkpointer.running
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_database_without_a_file_gets_no_thread(url: str) -> None:
    engine = make_engine(url)
    with WalCheckpointer(engine) as checkpointer:
        assert not checkpointer.applies
        assert not checkpointer.running


def test_postgresql_gets_no_thread(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with WalCheckpointer(engine) as checkpointer:
        assert not checkpointer.running
    engine.dispose()


def test_a_checkpoint_that_fails_is_raised_when_the_block_ends(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'no-such-directory' / 'notifier.db'}")
    checkpointer = WalCheckpointer(engine)
    with pytest.raises(Exception, match="unable to open database file"), checkpointer:
        pass
    assert not checkpointer.running
