"""Which database errors are "try again shortly" (503) and which are bugs (500)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from notifier.db.faults import is_database_fault
from notifier.errors import DatabaseUnavailableError


def sqlite_error(sql: str) -> OperationalError:
    engine = create_engine("sqlite://")
    with pytest.raises(OperationalError) as raised, engine.connect() as connection:
        connection.execute(text(sql))
    return raised.value


def test_a_locked_sqlite_database_is_a_fault(tmp_path: object) -> None:
    path = f"{tmp_path}/held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    with pytest.raises(OperationalError) as raised, engine.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    holder.close()
    assert is_database_fault(raised.value)


def test_a_missing_table_is_a_bug_not_a_fault() -> None:
    assert not is_database_fault(sqlite_error("SELECT * FROM nowhere"))


@pytest.mark.parametrize(
    "exc",
    [
        PoolTimeoutError("every connection busy"),
        DatabaseUnavailableError("refused"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    ],
)
def test_unavailability_of_any_kind_is_a_fault(exc: Exception) -> None:
    assert is_database_fault(exc)


def wrapped() -> RuntimeError:
    """A pool timeout raised on as the caller's own error."""
    try:
        try:
            raise PoolTimeoutError("busy")
        except PoolTimeoutError as inner:
            raise RuntimeError("while storing") from inner
    except RuntimeError as outer:
        return outer
    raise AssertionError("unreachable")


def test_a_wrapped_fault_is_found_and_a_programming_error_is_not() -> None:
    assert is_database_fault(wrapped())
    assert not is_database_fault(ProgrammingError("SELECT", {}, Exception("undefined table")))
