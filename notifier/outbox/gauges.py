"""What /metrics reads of the outbox at scrape time: its depth and how late its oldest due row is.

Both are one indexed query (ix_outbox_state_due: state, due_at), so a scrape every few
seconds costs the database next to nothing whatever the outbox's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, func, select

from notifier.db.engine import read_transaction
from notifier.db.tables import OUTBOX
from notifier.vocabulary import OutboxState


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    pending: int
    # Seconds since the oldest pending row fell due; 0 when none is due.
    oldest_due_seconds: float


def read_depth(engine: Engine, *, now: datetime) -> OutboxDepth:
    pending = OUTBOX.c.state == OutboxState.PENDING
    with read_transaction(engine) as connection:
        count = connection.execute(
            select(func.count()).select_from(OUTBOX).where(pending)
        ).scalar_one()
        oldest = connection.execute(
            select(func.min(OUTBOX.c.due_at)).where(and_(pending, OUTBOX.c.due_at <= now))
        ).scalar_one()
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return OutboxDepth(pending=int(count), oldest_due_seconds=age)
