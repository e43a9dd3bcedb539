"""Waking the dispatchers the moment a message is queued, instead of at their next tick.

A transaction that queues a due message marks its connection (`mark`). On PostgreSQL the
mark also sends NOTIFY on CHANNEL, which PostgreSQL delivers at commit to every worker
LISTENing (sending/listen.py), on any machine. Whatever the database, write_transaction
rings this process's own dispatchers once the transaction has committed (`ring`): on the
embedded SQLite default, that is how the web's events wake `notifier run`'s sender.
The interval tick stays the safety net for anything a wake-up misses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection, func, select

CHANNEL = "notifier_outbox"
_MARK = "notifier.queued"

_lock = threading.Lock()
_bells: list[Callable[[], None]] = []


def mark(connection: Connection) -> None:
    """This transaction queued a message that is due now; once per transaction."""
    if connection.info.get(_MARK):
        return
    connection.info[_MARK] = True
    if connection.dialect.name == "postgresql":
        # Delivered at commit, and not at all on rollback: PostgreSQL's own semantics.
        connection.execute(select(func.pg_notify(CHANNEL, "")))


def take_mark(connection: Connection) -> bool:
    """Whether the transaction just ended had queued a message; clears the mark."""
    return bool(connection.info.pop(_MARK, False))


def subscribe(bell: Callable[[], None]) -> Callable[[], None]:
    """Call `bell` after every commit in this process that queued a message; the answer
    unsubscribes it."""
    with _lock:
        _bells.append(bell)

    def unsubscribe() -> None:
        with _lock:
            if bell in _bells:
                _bells.remove(bell)

    return unsubscribe


def ring() -> None:
    with _lock:
        bells = list(_bells)
    for bell in bells:
        bell()
