"""Each SMS sender's pace, kept in the database so every worker keeps it together.

A sender (a From number or a Messaging Service) may take `max_per_second` messages; each
send books the sender's next free moment and moves it one interval on. A booking further
away than a worker should wait is not made at all: the message waits as a pending row
instead, so nothing booked is left unused and no lease runs out in a wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from notifier.db.engine import write_transaction
from notifier.db.tables import SEND_PACE


def _ensure(connection: Connection, sender: str, now: datetime) -> None:
    """The sender's row, free from `now`, unless it is there already."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SEND_PACE).values(sender=sender, next_at=now)
    connection.execute(statement.on_conflict_do_nothing(index_elements=["sender"]))


def book(
    engine: Engine, sender: str, *, now: datetime, interval: timedelta, max_wait: timedelta
) -> tuple[datetime, bool]:
    """(when, booked): the moment this message may go, booked for it when within
    `max_wait` of `now`; else the sender's next free moment, left unbooked."""
    with write_transaction(engine) as connection:
        _ensure(connection, sender, now)
        query = select(SEND_PACE.c.next_at).where(SEND_PACE.c.sender == sender)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()  # SQLite's writers already go one at a time
        free = max(connection.execute(query).scalar_one(), now)
        if free - now > max_wait:
            return free, False
        connection.execute(
            update(SEND_PACE).where(SEND_PACE.c.sender == sender).values(next_at=free + interval)
        )
    return free, True


def hold_back(engine: Engine, sender: str, *, until: datetime) -> None:
    """The provider said too many (HTTP 429, Twilio 20429): nothing more before `until`."""
    with write_transaction(engine) as connection:
        _ensure(connection, sender, until)
        connection.execute(
            update(SEND_PACE)
            .where(SEND_PACE.c.sender == sender, SEND_PACE.c.next_at < until)
            .values(next_at=until)
        )
