"""The outbox as a queue: enqueue, claim with a lease, and record each outcome. All its SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Update, and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from notifier.db import wakeups
from notifier.db.bulk import Bulk
from notifier.db.engine import write_transaction
from notifier.db.tables import OPT_OUTS, OUTBOX
from notifier.errors import DuplicateMessageError
from notifier.outbox.rows import ClaimedRow, NewOutboxRow, ReceiptCheck
from notifier.outbox.suppression import ERASED_REASON, REMOVED_RECIPIENTS, hashed_address
from notifier.vocabulary import Channel, OutboxState

# The outbox's unique keys: by event, and for rows that answer no event (models.py).
UNIQUE_KEYS = ("uq_outbox_message", "uq_outbox_eventless_booking", "uq_outbox_eventless")


def _row(message: NewOutboxRow, now: datetime) -> dict[str, Any]:
    # Spelled out rather than dataclasses.asdict, which deep-copies every field.
    return {
        "shipment_id": message.shipment_id,
        "status_event_id": message.status_event_id,
        "rebooking_id": message.rebooking_id,
        "channel": str(message.channel),
        "purpose": str(message.purpose),
        "template": message.template,
        "locale": str(message.locale),
        "recipient": message.recipient,
        "due_at": message.due_at,
        "state": str(message.state),
        "last_error": message.last_error,
        "created_at": now,
        "updated_at": now,
        "finished_at": None if message.state is OutboxState.PENDING else now,
    }


_ENQUEUED_COLUMNS = (
    "shipment_id",
    "status_event_id",
    "rebooking_id",
    "channel",
    "purpose",
    "template",
    "locale",
    "recipient",
    "due_at",
    "state",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
    "finished_at",
)


def enqueue_many(connection: Connection, messages: Sequence[NewOutboxRow], now: datetime) -> None:
    """Rows for freshly stored events: their keys cannot exist yet, so a clash is a bug.

    Ingest calls this for every batch, so it goes straight to the driver (bulk.py).
    """
    if not messages:
        return
    bulk = Bulk(connection)
    stamp = bulk.when(now)
    rows = [
        (
            m.shipment_id,
            m.status_event_id,
            m.rebooking_id,
            m.channel.value,
            m.purpose.value,
            m.template,
            m.locale.value,
            m.recipient,
            bulk.when(m.due_at),
            str(m.state),
            0,
            m.last_error,
            stamp,
            stamp,
            None if m.state is OutboxState.PENDING else stamp,
        )
        for m in messages
    ]
    bulk.execute_many(bulk.insert_sql(OUTBOX, _ENQUEUED_COLUMNS), rows)
    if any(_due(m, now) for m in messages):
        wakeups.mark(connection)


def enqueue(connection: Connection, message: NewOutboxRow, now: datetime) -> int:
    """One row; DuplicateMessageError when the same message is queued already: the same
    (shipment, event, channel, purpose), or for a row without an event the same
    (shipment, channel, purpose, booking)."""
    try:
        with connection.begin_nested():
            result = connection.execute(OUTBOX.insert().returning(OUTBOX.c.id), _row(message, now))
            row_id = int(result.scalar_one())
    except IntegrityError as exc:
        if _violates_unique_key(exc):
            raise DuplicateMessageError() from exc
        raise
    if _due(message, now):
        wakeups.mark(connection)
    return row_id


def _due(message: NewOutboxRow, now: datetime) -> bool:
    """Whether a dispatcher woken now would send it (not one held for the morning)."""
    return message.state is OutboxState.PENDING and message.due_at <= now


def _violates_unique_key(exc: IntegrityError) -> bool:
    # PostgreSQL names the constraint or index; SQLite lists the key's columns instead,
    # and every unique key of the outbox starts with its shipment_id.
    text = str(exc.orig)
    return any(name in text for name in UNIQUE_KEYS) or (
        "UNIQUE constraint failed: outbox.shipment_id" in text
    )


def claim(
    engine: Engine, *, worker: str, now: datetime, limit: int, lease: timedelta
) -> list[ClaimedRow]:
    """Lease up to `limit` due rows: pending and due, or abandoned by a worker whose lease ended.

    PostgreSQL skips rows other workers are claiming (FOR UPDATE SKIP LOCKED); SQLite's
    BEGIN IMMEDIATE lets one claimer in at a time. Either way a row has one holder.

    As claim_receipt_checks does, and for its reason, the ids are read and locked first
    and updated by a second statement that repeats the condition: never more than `limit`
    rows, whichever plan PostgreSQL picks.
    """
    due = or_(
        and_(OUTBOX.c.state == OutboxState.PENDING, OUTBOX.c.due_at <= now),
        and_(OUTBOX.c.state == OutboxState.SENDING, OUTBOX.c.lease_until < now),
    )
    candidates = select(OUTBOX.c.id).where(due).order_by(OUTBOX.c.due_at, OUTBOX.c.id).limit(limit)
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(connection.execute(candidates).scalars())
        if not ids:
            return []
        statement = (
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids), due)
            .values(
                state=OutboxState.SENDING,
                lease_until=now + lease,
                leased_by=worker,
                attempts=OUTBOX.c.attempts + 1,
                updated_at=now,
            )
            .returning(
                OUTBOX.c.id,
                OUTBOX.c.shipment_id,
                OUTBOX.c.status_event_id,
                OUTBOX.c.rebooking_id,
                OUTBOX.c.channel,
                OUTBOX.c.purpose,
                OUTBOX.c.template,
                OUTBOX.c.locale,
                OUTBOX.c.recipient,
                OUTBOX.c.attempts,
            )
        )
        rows = connection.execute(statement).all()
    return sorted((ClaimedRow(*row) for row in rows), key=lambda c: c.id)


def claim_receipt_checks(
    engine: Engine,
    *,
    now: datetime,
    sent_before: datetime,
    checked_before: datetime,
    max_checks: int,
    limit: int,
) -> list[ReceiptCheck]:
    """Take up to `limit` SMS whose receipt never came, to ask the provider about them.

    Each is still `sent`, was sent before `sent_before`, has been asked about fewer than
    `max_checks` times and not since `checked_before`. Taking one counts the check and
    stamps it `now`; the update repeats the whole condition, so it is a compare-and-set:
    of two workers racing for a row, the second finds it checked already (PostgreSQL
    also skips rows the first holds; SQLite lets one writer in at a time).

    The ids are read first and updated by a second statement: as one UPDATE ... WHERE id IN
    (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED), PostgreSQL may rerun the subquery for
    each row it joins, skip the rows its own update has just changed, and so take more
    than `limit` rows.
    """
    waiting = and_(
        OUTBOX.c.state == OutboxState.SENT,
        OUTBOX.c.channel == Channel.SMS,
        OUTBOX.c.provider_id.is_not(None),
        OUTBOX.c.sent_at <= sent_before,
        OUTBOX.c.receipt_checks < max_checks,
        or_(
            OUTBOX.c.receipt_checked_at.is_(None),
            OUTBOX.c.receipt_checked_at <= checked_before,
        ),
    )
    candidates = (
        select(OUTBOX.c.id).where(waiting).order_by(OUTBOX.c.sent_at, OUTBOX.c.id).limit(limit)
    )
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(connection.execute(candidates).scalars())
        if not ids:
            return []
        statement = (
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids), waiting)
            .values(receipt_checks=OUTBOX.c.receipt_checks + 1, receipt_checked_at=now)
            .returning(OUTBOX.c.id, OUTBOX.c.provider_id, OUTBOX.c.receipt_checks)
        )
        rows = connection.execute(statement).all()
    return sorted((ReceiptCheck(*row) for row in rows), key=lambda c: c.id)


def _finish(
    connection: Connection,
    message: ClaimedRow,
    *,
    worker: str,
    now: datetime,
    values: dict[str, Any],
) -> bool:
    """Update a row this worker still holds; False when its lease was lost meanwhile."""
    plain = {k: v for k, v in values.items() if not isinstance(v, ColumnElement)}
    statement = _finishing(tuple(sorted(plain)))
    for name, expression in values.items():
        if name not in plain:  # an expression (attempts - 1): rare, not worth a cache
            statement = statement.values({name: expression})
    params = {f"set_{name}": value for name, value in plain.items()}
    result = connection.execute(
        statement, {"row_id": message.id, "worker": worker, "set_updated_at": now, **params}
    )
    return result.rowcount == 1


@cache
def _finishing(names: tuple[str, ...]) -> Update:
    """The UPDATE that ends a lease and sets `names`, built once per set of names: a send
    records its outcome hundreds of times a second, and building the statement each time
    cost as much as the round trip to the database."""
    columns = {name: bindparam(f"set_{name}", type_=OUTBOX.c[name].type) for name in names}
    updated_at = bindparam("set_updated_at", type_=OUTBOX.c.updated_at.type)
    return (
        update(OUTBOX)
        .where(
            OUTBOX.c.id == bindparam("row_id"),
            OUTBOX.c.state == OutboxState.SENDING,
            OUTBOX.c.leased_by == bindparam("worker"),
        )
        .values(lease_until=None, leased_by=None, updated_at=updated_at, **columns)
    )


def mark_sent(
    connection: Connection,
    message: ClaimedRow,
    *,
    worker: str,
    now: datetime,
    provider_id: str | None,
    rendered: dict[str, Any],
) -> bool:
    """The provider accepted it; `rendered` holds subject, body, body_html, encoding, segments."""
    values = {
        **rendered,
        "state": OutboxState.SENT,
        "provider_id": provider_id,
        "sent_at": now,
        "error_code": None,
        "last_error": None,
    }
    return _finish(connection, message, worker=worker, now=now, values=values)


def mark_retry(
    connection: Connection,
    message: ClaimedRow,
    *,
    worker: str,
    now: datetime,
    due_at: datetime,
    error: str,
    code: str | None,
) -> bool:
    values = {
        "state": OutboxState.PENDING,
        "due_at": due_at,
        "last_error": error[:2000],
        "error_code": code,
    }
    return _finish(connection, message, worker=worker, now=now, values=values)


def mark_deferred(
    connection: Connection, message: ClaimedRow, *, worker: str, now: datetime, due_at: datetime
) -> bool:
    """Back to pending until `due_at`, as if never claimed: a wait for the sender's pace is
    not an attempt, so it neither counts towards max_attempts nor records an error."""
    values = {"state": OutboxState.PENDING, "due_at": due_at, "attempts": OUTBOX.c.attempts - 1}
    return _finish(connection, message, worker=worker, now=now, values=values)


def mark_final(
    connection: Connection,
    message: ClaimedRow,
    *,
    worker: str,
    now: datetime,
    state: OutboxState,
    error: str | None = None,
    code: str | None = None,
) -> bool:
    """failed, dead, cancelled or suppressed: the row is done and will not be sent."""
    values = {"state": state, "finished_at": now, "last_error": error, "error_code": code}
    return _finish(connection, message, worker=worker, now=now, values=values)


def opt_out_address(channel: str, address: str) -> str:
    """The form an opt-out is stored and looked up in. Email addresses in any case are
    one mailbox in practice (providers ignore the local part's case): "Giovanni@" who
    unsubscribed must not get mail as "giovanni@". Phone numbers are E.164 already."""
    return address.lower() if channel == Channel.EMAIL else address


def record_opt_out(
    connection: Connection, *, channel: str, address: str, reason: str, now: datetime
) -> bool:
    """True when the address was not opted out of the channel before."""
    if address in REMOVED_RECIPIENTS:
        # A late receipt (21610) for a message to someone since erased or anonymised: the
        # marker is nobody's address.
        return False
    address = opt_out_address(channel, address)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(OPT_OUTS)
        .on_conflict_do_nothing(index_elements=["channel", "address"])
        .returning(OPT_OUTS.c.id)
    )
    values = {"channel": channel, "address": address, "reason": reason, "created_at": now}
    return connection.execute(statement, values).first() is not None


def remove_opt_out(connection: Connection, *, channel: str, address: str, link_key: bytes) -> bool:
    """The address may be messaged on the channel again (an SMS START); True if it was
    opted out until now. An opt-out kept as a hash by retention is lifted too; an
    erasure's is not (privacy/erase.py): that person asked to be forgotten for good."""
    address = opt_out_address(channel, address)
    hashed = hashed_address(link_key, channel, address)
    result = connection.execute(
        delete(OPT_OUTS).where(
            OPT_OUTS.c.channel == channel,
            or_(
                OPT_OUTS.c.address == address,
                and_(OPT_OUTS.c.address == hashed, OPT_OUTS.c.reason != ERASED_REASON),
            ),
        )
    )
    return result.rowcount > 0


def opted_out(
    connection: Connection, pairs: Iterable[tuple[str, str]], *, link_key: bytes
) -> set[tuple[str, str]]:
    """Which of these (channel, address) pairs asked not to be messaged, as given: by the
    plain address, or by its keyed hash (an erased person, an expired opt-out), both
    looked up in the same query."""
    asked: dict[tuple[str, str], list[str]] = {}  # (channel, stored form) -> as given
    for channel, address in pairs:
        asked.setdefault((channel, opt_out_address(channel, address)), []).append(address)
        hashed = hashed_address(link_key, channel, address)
        asked.setdefault((channel, hashed), []).append(address)
    by_channel: dict[str, list[str]] = {}
    for channel, stored in asked:
        by_channel.setdefault(channel, []).append(stored)
    bulk = Bulk(connection)
    sql = bulk.select_in(OPT_OUTS, ["address"], equal=["channel"], within="address")
    return {
        (channel, given)
        for channel, group in by_channel.items()
        for (stored,) in bulk.fetch(sql, channel, bulk.values(group))
        for given in asked.get((channel, stored), ())
    }
