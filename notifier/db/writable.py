"""Whether the database takes a write now: what /healthz reports, within a short wait."""

from __future__ import annotations

from sqlalchemy import Engine, text

# A health check answers fast: a writer that holds the lock longer than this makes the
# service unhealthy for as long as it does, which is what a load balancer should know.
WRITE_PROBE_WAIT_MS = 1000


def can_write(engine: Engine) -> bool:
    """True when a write transaction could start now. Raises the database's own error
    when it cannot even be reached (the caller reports that as unreachable)."""
    if engine.dialect.name == "sqlite":
        return _sqlite_can_write(engine)
    with engine.connect() as connection:
        # A standby (recovery) or a read-only default refuses every write.
        read_only = connection.execute(text("SHOW transaction_read_only")).scalar()
        recovering = connection.execute(text("SELECT pg_is_in_recovery()")).scalar()
    return read_only == "off" and not recovering


def _sqlite_can_write(engine: Engine) -> bool:
    import sqlite3

    raw = engine.raw_connection()  # pysqlite with isolation_level None (db/engine.py)
    try:
        cursor = raw.cursor()
        (usual,) = cursor.execute("PRAGMA busy_timeout").fetchone()
        cursor.execute(f"PRAGMA busy_timeout={WRITE_PROBE_WAIT_MS}")
        try:
            cursor.execute("BEGIN IMMEDIATE")  # takes the write lock, or waits, then fails
            cursor.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False  # locked by another writer (or read-only): not writable now
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(usual)}")
            cursor.close()
    finally:
        raw.close()
