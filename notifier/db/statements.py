"""A connection of its own per sending thread for the one-statement writes a send ends with.

A send's outcome is one UPDATE, recorded hundreds of times a second by each worker. Taken
from the pool, each would cost a checkout, a liveness ping (a round trip) and a check-in;
kept per thread for a burst of batches, in autocommit on PostgreSQL, it costs the statement
alone. The ping's job
is done afterwards instead: a statement that finds its connection dead (a restarted or cut
database) is run once more on a new one, which the UPDATE's own guards (the row still
leased to this worker) make safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from notifier.db.engine import write_transaction

T = TypeVar("T")


class StatementConnections:
    """Per-thread autocommit connections on PostgreSQL; elsewhere, a write transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._kept = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[Connection] = set()

    def run(self, statement: Callable[[Connection], T]) -> T:
        """`statement` (one writing statement, atomic on its own) on this thread's connection."""
        if not self._kept:
            with write_transaction(self.engine) as connection:
                return statement(connection)
        try:
            return statement(self._connection())
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._forget()
        # The connection was dead (the database restarted, a backend was terminated).
        return statement(self._connection())

    @contextmanager
    def borrowed(self) -> Iterator[None]:
        """The threads keep their connections until the end of this block (a batch, a
        burst of them), then give them back to the pool: none outlives its work."""
        try:
            yield
        finally:
            self.close()

    def close(self) -> None:
        """Give back every thread's connection; a thread that writes again takes a new one."""
        with self._lock:
            kept, self._open = self._open, set()
        for connection in kept:
            connection.close()

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.connection = connection
            with self._lock:
                self._open.add(connection)
        return connection

    def _forget(self) -> None:
        connection: Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._open.discard(connection)
            connection.close()
