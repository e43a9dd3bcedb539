"""Promise SQL that writes: recording a promise in its booking's or its event's
transaction, and settling it at a delivery or a call.

The rules (windows, what a delivery or a call makes of a promise) are pure, in
promises.py; this module only reads rows, applies them and writes the result. What ops
read of promises (the callbacks to make, a day's figures) is ops/store.py's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from notifier.config import Settings
from notifier.db.bulk import one_of
from notifier.db.tables import PROMISES
from notifier.rebooking.choices import Choice
from notifier.rebooking.promises import (
    INSTEAD_OF_ATTEMPT,
    PROMISED_BY_CHOICE,
    UNSETTLED,
    CallbackNotFoundError,
    CallbackRefusedError,
    CallMade,
    Settled,
    choice_window,
    day_window,
    delivered,
    kept_at,
)
from notifier.shipments import ShipmentRecord
from notifier.vocabulary import PromiseExcuse, PromiseKind, PromiseState

_UNSETTLED = tuple(str(s) for s in UNSETTLED)


def record_booking(
    connection: Connection,
    *,
    shipment: ShipmentRecord,
    booking_id: int,
    replaced_id: int | None,
    choice: Choice,
    settings: Settings,
    now: datetime,
) -> int | None:
    """In the booking's transaction: excuse what the choice replaces, record what it
    promises. Returns the new promise's id, None for a choice that promises nothing.

    Only promises still open with their window ahead are excused: one whose window has
    ended unkept is broken, whatever the recipient chose since.
    """
    ahead = [PROMISES.c.state == PromiseState.OPEN, PROMISES.c.window_end > now]
    excused = {"state": PromiseState.EXCUSED, "excused_at": now, "updated_at": now}
    if replaced_id is not None:
        connection.execute(
            update(PROMISES)
            .where(PROMISES.c.rebooking_id == replaced_id, *ahead)
            .values(excuse=PromiseExcuse.REPLACED, **excused)
        )
    if choice.kind in INSTEAD_OF_ATTEMPT:
        connection.execute(
            update(PROMISES)
            .where(
                PROMISES.c.shipment_id == shipment.id,
                PROMISES.c.kind == PromiseKind.NEXT_ATTEMPT,
                *ahead,
            )
            .values(excuse=PromiseExcuse.REBOOKED, **excused)
        )
    window = choice_window(choice, shipment=shipment, settings=settings, now=now)
    if window is None:
        return None
    values = {
        "kind": PROMISED_BY_CHOICE[choice.kind],
        "state": PromiseState.OPEN,
        "shipment_id": shipment.id,
        "rebooking_id": booking_id,
        "depot": shipment.depot,
        "window_start": window.start,
        "window_end": window.end,
        "created_at": now,
        "updated_at": now,
    }
    return int(connection.execute(insert(PROMISES).returning(PROMISES.c.id), values).scalar_one())


@dataclass(frozen=True, slots=True)
class Announced:
    """A next attempt a stored missed-delivery event announced, for its shipment."""

    shipment_id: int
    status_event_id: int
    depot: str | None
    day: date
    window: str | None  # "10:00-14:00"; None for the whole day


def record_announced(
    connection: Connection, announced: Sequence[Announced], *, settings: Settings, now: datetime
) -> None:
    """In ingest's batch transaction: one open promise per announced next attempt (the
    events are new, so none is recorded yet). One executemany for the batch."""
    if not announced:
        return
    rows = []
    for item in announced:
        window = day_window(item.day, item.window, settings)
        rows.append(
            {
                "kind": PromiseKind.NEXT_ATTEMPT,
                "state": PromiseState.OPEN,
                "shipment_id": item.shipment_id,
                "status_event_id": item.status_event_id,
                "depot": item.depot,
                "window_start": window.start,
                "window_end": window.end,
                "created_at": now,
                "updated_at": now,
            }
        )
    connection.execute(insert(PROMISES), rows)


# Written as a compare-and-set on the state read: a call marked done meanwhile (from the
# CLI or the page, outside ingest's lock) is not overwritten.
_SETTLE = (
    update(PROMISES)
    .where(
        PROMISES.c.id == bindparam("promise_id"),
        PROMISES.c.state == bindparam("was"),
        PROMISES.c.kept_at.is_(None),
    )
    .values(
        state=bindparam("new_state"),
        kept_at=bindparam("kept"),
        broken_at=bindparam("broken"),
        excused_at=bindparam("excused"),
        excuse=bindparam("why"),
        updated_at=bindparam("now"),
    )
)


def settle_deliveries(
    connection: Connection, deliveries: Mapping[int, datetime], *, now: datetime
) -> int:
    """In ingest's batch transaction: what each shipment's delivery (shipment id -> the
    DELIVERED event's own time) makes of its unsettled promises. One SELECT and one
    executemany UPDATE for the batch; returns how many promises changed."""
    if not deliveries:
        return 0
    query = select(
        PROMISES.c.id,
        PROMISES.c.shipment_id,
        PROMISES.c.kind,
        PROMISES.c.state,
        PROMISES.c.window_end,
        PROMISES.c.broken_at,
    ).where(
        one_of(connection, PROMISES.c.shipment_id, deliveries),
        PROMISES.c.state.in_(_UNSETTLED),
        PROMISES.c.kept_at.is_(None),
    )
    changes = []
    for row in connection.execute(query):
        state = PromiseState(row.state)
        settled = delivered(
            PromiseKind(row.kind),
            state,
            window_end=row.window_end,
            broken_at=row.broken_at,
            at=deliveries[row.shipment_id],
        )
        if settled is not None:
            changes.append(_change(row.id, state, settled, now))
    if changes:
        connection.execute(_SETTLE, changes)
    return len(changes)


def _change(promise_id: int, was: PromiseState, settled: Settled, now: datetime) -> dict[str, Any]:
    return {
        "promise_id": promise_id,
        "was": was,
        "new_state": settled.state,
        "kept": settled.kept_at,
        "broken": settled.broken_at,
        "excused": settled.excused_at,
        "why": settled.excuse,
        "now": now,
    }


def mark_callback_done(
    connection: Connection, promise_id: int, *, call: CallMade, now: datetime
) -> PromiseState:
    """Record the call (who, when, outcome, note) and what it makes of the promise: kept
    inside its window, broken then kept after. Raises CallbackNotFoundError, or
    CallbackRefusedError("id", ...) for a callback done already or excused."""
    query = select(PROMISES).where(
        PROMISES.c.id == promise_id, PROMISES.c.kind == PromiseKind.CALLBACK
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()  # one marking at a time; SQLite has one writer
    row = connection.execute(query).first()
    if row is None:
        raise CallbackNotFoundError(f"id: no callback has id {promise_id}")
    if row.done_at is not None:
        when = row.done_at.isoformat(timespec="minutes")
        raise CallbackRefusedError("id", f"callback {promise_id} was marked done at {when}")
    state = PromiseState(row.state)
    settled = kept_at(state, window_end=row.window_end, broken_at=row.broken_at, at=now)
    if settled is None:
        why = f" ({row.excuse})" if row.excuse else ""
        raise CallbackRefusedError("id", f"callback {promise_id} is {state}{why}: nothing to mark")
    connection.execute(
        update(PROMISES)
        .where(PROMISES.c.id == promise_id)
        .values(
            state=settled.state,
            kept_at=settled.kept_at,
            broken_at=settled.broken_at,
            done_at=now,
            done_by=call.by,
            outcome=call.outcome,
            note=call.note,
            updated_at=now,
        )
    )
    return settled.state
