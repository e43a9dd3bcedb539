"""Which errors mean "the database cannot serve this now" (locked, unreachable, timed out),
as opposed to a bug: the web answers the first kind 503 with Retry-After, so the sender
retries and nothing it sent is lost."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from notifier.errors import DatabaseUnavailableError

# OperationalError: locked (SQLite busy timeout), lock or statement timeout (PostgreSQL),
# connection refused or lost; InterfaceError: a connection closed under us; the pool's
# TimeoutError: every connection busy for longer than the pool waits.
DATABASE_FAULTS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    DatabaseUnavailableError,
)
RETRY_AFTER_SECONDS = 5


# SQLite raises OperationalError for a missing table too, which is a broken deployment,
# not a busy one: only these result codes mean "try again shortly".
_SQLITE_UNAVAILABLE = frozenset(
    {
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_IOERR",
        "SQLITE_CANTOPEN",
        "SQLITE_FULL",
        "SQLITE_READONLY",
        "SQLITE_PROTOCOL",
    }
)


def is_database_fault(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) is the database failing to serve."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return False
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, DATABASE_FAULTS):
            return _unavailable(current)
        current = current.__cause__ or current.__context__
    return False


def _unavailable(exc: BaseException) -> bool:
    original = getattr(exc, "orig", None)
    if isinstance(original, sqlite3.Error):
        return getattr(original, "sqlite_errorname", "") in _SQLITE_UNAVAILABLE
    return True
