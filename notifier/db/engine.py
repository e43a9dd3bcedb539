"""Engines and transactions; nothing else in notifier creates an engine."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from notifier.config import Settings
from notifier.db import wakeups
from notifier.errors import DatabaseUnavailableError

# A transaction's wait for another writer's lock, unless the caller says otherwise
# (engine_from: [database] lock_timeout_seconds).
DEFAULT_LOCK_TIMEOUT_SECONDS = 5.0


def normalise_url(url: str) -> URL:
    """postgres:// and postgresql:// mean psycopg 3, the driver the `postgres` extra installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


PG_CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_POOL_SIZE = 5  # SQLAlchemy's own
# Beyond the send threads: a claim, the scheduler's other jobs, a web request or two.
SPARE_CONNECTIONS = 4


def send_threads(concurrency: int) -> int:
    """The threads a worker sends with: `concurrency` of them at the provider at once, and
    a quarter more, so that a thread composing the next message or recording its last
    one's outcome does not hold a provider slot (sending/dispatch.py)."""
    return concurrency + -(-concurrency // 4) if concurrency > 1 else 1


def engine_from(settings: Settings) -> Engine:
    """The service's engine: its URL and its timeouts from [database]."""
    database = settings.database
    # Each send thread records its outcomes on a connection of its own, beside the claims,
    # the other jobs and the web: the pool's steady size follows the concurrency.
    threads = send_threads(settings.dispatch.concurrency)
    return make_engine(
        database.url,
        lock_timeout_seconds=database.lock_timeout_seconds,
        statement_timeout_seconds=database.statement_timeout_seconds,
        pool_size=max(DEFAULT_POOL_SIZE, threads + SPARE_CONNECTIONS),
    )


def make_engine(
    url: str,
    *,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    statement_timeout_seconds: float | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine whose waits are bounded: for a lock, for a pooled connection, for a
    connection to a host, and (PostgreSQL, when given) for any one statement. A migration
    passes no statement timeout: building an index on a large table may take minutes."""
    # Database errors quote their statement's parameters: phone numbers, addresses,
    # message bodies. Hidden, an error can be logged without leaking them.
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("pool_timeout", lock_timeout_seconds)
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout_ms=int(lock_timeout_seconds * 1000), **kwargs)
    options = f"-c lock_timeout={int(lock_timeout_seconds * 1000)}"
    if statement_timeout_seconds is not None:
        options += f" -c statement_timeout={int(statement_timeout_seconds * 1000)}"
    # Without a connect timeout an unresponsive host hangs /healthz and every worker.
    kwargs.setdefault(
        "connect_args", {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS, "options": options}
    )
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


class _Writers:
    """One writing transaction at a time per SQLite file in this process, the others queued
    on a lock. SQLite's own busy handler makes a waiting writer sleep and retry in steps of
    up to 100 ms: under a burst (the API storing events while the sender records its sends)
    the waiters' naps, not the writing, would set the pace. Other processes on the same
    file still meet the busy timeout."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    def lock_for(self, database: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(os.path.abspath(database), threading.RLock())


_WRITERS = _Writers()
# Each SQLite engine's writer lock and how long a writer waits on it (its busy timeout).
_ENGINE_WRITERS: weakref.WeakKeyDictionary[Engine, tuple[threading.RLock, float]] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def _one_writer(lock: threading.RLock, timeout_seconds: float) -> Iterator[None]:
    # Re-entrant: a writer that opens a second write on its own thread waits on SQLite's
    # busy timeout as before, not on itself.
    if not lock.acquire(timeout=timeout_seconds):
        raise DatabaseUnavailableError(
            f"another writer in this process held the database for over {timeout_seconds:g} s"
        )
    try:
        yield
    finally:
        lock.release()


def _writer_turn(engine: Engine) -> AbstractContextManager[None]:
    writer = _ENGINE_WRITERS.get(engine)
    if writer is None:
        return nullcontext()
    return _one_writer(*writer)


def _sqlite_engine(url: URL, *, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    if url.database in (None, "", ":memory:"):
        # An in-memory database has a single-connection pool.
        kwargs.pop("pool_timeout", None)
        kwargs.pop("pool_size", None)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs)
    if url.database not in (None, "", ":memory:"):
        _ENGINE_WRITERS[engine] = (_WRITERS.lock_for(url.database), busy_timeout_ms / 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN, so writers can ask for IMMEDIATE
        # (the SQLAlchemy pysqlite "serializable isolation" recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL is durable against application crashes; only an OS crash or power
        # cut can lose the last transactions, which the sources will resend.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 32 MiB of page cache (the default is 2): lookups by key stay in memory as the
        # event table grows, at a fixed, bounded cost per connection.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with "database
        # is locked" when another writer got in first; IMMEDIATE takes the write lock up
        # front and waits on busy_timeout instead.
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: commits on success, rolls back on error.

    A transaction that queued a message (wakeups.mark) rings this process's dispatchers
    once it has committed: before, they could not see the row.
    """
    with _writer_turn(engine), engine.connect().execution_options(write=True) as connection:
        try:
            with connection.begin():
                yield connection
        finally:
            queued = wakeups.take_mark(connection)
        if queued:
            wakeups.ring()


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        yield connection
