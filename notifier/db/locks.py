"""Writers' turns: the transactions that create shipments or issue links, one at a time."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

# Ingest batches and slip printing take turns, one transaction at a time: SQLite by
# BEGIN IMMEDIATE (db.engine.write_transaction), PostgreSQL by this transaction-scoped
# advisory lock. Without it two writers can both create the same new shipment, fold
# events into a stale state, or each issue a parcel its own "only" live link. One writer
# stores about ten thousand events a second, far above any courier's event rate, so the
# serialisation costs nothing that matters and keeps the logic simple and exact.
WRITERS_LOCK_ID = 0x6E6F746966696572  # "notifier"


def take_writers_turn(connection: Connection) -> None:
    """Wait, inside this write transaction, until no other writer holds the turn."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(WRITERS_LOCK_ID)))
