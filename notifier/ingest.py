"""Storing validated events idempotently, a batch per transaction, and updating shipments."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from notifier.carriers.native import parse_native_event, shown_id
from notifier.config import Ingest, Settings
from notifier.db import write_transaction
from notifier.errors import EventRejectedError, FieldError
from notifier.links import Attempt, issue_links, revoke_links, secret_key
from notifier.models import ContactPoint, Shipment, StatusEvent
from notifier.notifications import StoredEvent, enqueue_notifications
from notifier.sqlsets import one_of, pair_of
from notifier.tracking import ShipmentState, plan_batch
from notifier.vocabulary import TERMINAL_STATUSES, Event, Status

# Ingest works on Core tables: a batch is a few executemany calls, no ORM objects.
SHIPMENTS: Table = Shipment.__table__  # type: ignore[attr-defined]
EVENTS: Table = StatusEvent.__table__  # type: ignore[attr-defined]
CONTACTS: Table = ContactPoint.__table__  # type: ignore[attr-defined]

# Ingest writers take turns, one batch transaction at a time: SQLite by BEGIN IMMEDIATE,
# PostgreSQL by this transaction-scoped advisory lock. Without it two writers can both
# create the same new shipment or fold events into a stale state. One writer stores tens
# of thousands of events a second, far above any courier's event rate, so the
# serialisation costs nothing that matters and keeps the logic simple and exact.
INGEST_LOCK_ID = 0x6E6F746966696572  # "notifier"
_STATE_COLUMNS = [
    c.name
    for c in SHIPMENTS.columns
    if c.name not in ("id", "carrier", "tracking_number", "generation", "created_at", "updated_at")
]
_LOADED_COLUMNS = [c for c in SHIPMENTS.columns if c.name not in ("created_at", "updated_at")]


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one input item (a line of a file, an element of a request)."""

    position: int
    outcome: Outcome
    event_id: str | None = None
    errors: tuple[FieldError, ...] = ()
    unknown_status: bool = False


@dataclass(slots=True)
class Summary:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    unknown_statuses: int = 0
    rejections: list[ItemResult] = field(default_factory=list)

    def count(self, result: ItemResult) -> None:
        if result.outcome is Outcome.STORED:
            self.stored += 1
            self.unknown_statuses += result.unknown_status
        elif result.outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        else:
            self.rejected += 1


@dataclass(frozen=True, slots=True)
class Incoming:
    """One raw input item with its position (line number or array index)."""

    position: int
    payload: Any
    raw: str
    error: FieldError | None = None


def ingest(
    engine: Engine,
    items: Iterable[Incoming],
    *,
    settings: Settings,
    now: Callable[[], datetime],
    batch_size: int | None = None,
    notify: bool = True,
) -> Iterator[ItemResult]:
    """Validate and store items, committing every `batch_size` valid events.

    With `notify`, the messages the rules call for are put in the outbox in the same
    transaction as their events. Results are yielded once their batch is committed,
    so whatever a caller has seen reported as stored is durable.
    """
    size = batch_size or settings.ingest.batch_size
    region = settings.company.default_phone_region
    store = partial(store_events, engine, settings=settings if notify else None)
    pending: list[ItemResult] = []
    batch: list[tuple[int, Event]] = []
    for item in items:
        result = _validate(item, default_region=region, now=now())
        if isinstance(result, ItemResult):
            pending.append(result)
            continue
        batch.append((item.position, result))
        if len(batch) >= size:
            yield from _flush(store, batch, pending, now())
            batch, pending = [], []
    yield from _flush(store, batch, pending, now())


def _validate(item: Incoming, *, default_region: str, now: datetime) -> Event | ItemResult:
    if item.error is not None:
        return ItemResult(item.position, Outcome.REJECTED, None, (item.error,))
    try:
        return parse_native_event(
            item.payload, raw=item.raw, default_region=default_region, now=now
        )
    except EventRejectedError as exc:
        event_id = item.payload.get("event_id") if isinstance(item.payload, dict) else None
        return ItemResult(item.position, Outcome.REJECTED, shown_id(event_id), tuple(exc.errors))


def _flush(
    store: Callable[..., list[Outcome]],
    batch: list[tuple[int, Event]],
    pending: list[ItemResult],
    now: datetime,
) -> Iterator[ItemResult]:
    results = list(pending)
    if batch:
        events = [event for _, event in batch]
        outcomes = store(events, now=now)
        for (position, event), outcome in zip(batch, outcomes, strict=True):
            unknown = event.status is Status.UNKNOWN
            results.append(ItemResult(position, outcome, event.event_id, (), unknown))
    results.sort(key=lambda r: r.position)
    yield from results


def store_events(
    engine: Engine,
    events: Sequence[Event],
    *,
    now: datetime,
    settings: Settings | None,
    reopen_after: timedelta | None = None,
) -> list[Outcome]:
    """Store one batch in one transaction; an outcome per event, in order.

    With settings, the batch's messages are enqueued in that same transaction.
    """
    if reopen_after is None:
        reopen_after = settings.ingest.reopen_after if settings else Ingest().reopen_after
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(INGEST_LOCK_ID)))
        return _store(connection, events, now, reopen_after, settings)


def _store(
    connection: Connection,
    events: Sequence[Event],
    now: datetime,
    reopen_after: timedelta,
    settings: Settings | None,
) -> list[Outcome]:
    keys = sorted({(e.carrier, e.tracking_number) for e in events})
    existing = _latest_shipments(connection, keys)
    seen = _existing_event_keys(connection, events)
    outcomes: list[Outcome] = []
    fresh: list[Event] = []
    for event in events:
        key = (event.source, event.event_id)
        if key in seen:
            outcomes.append(Outcome.DUPLICATE)
        else:
            seen.add(key)
            fresh.append(event)
            outcomes.append(Outcome.STORED)
    if not fresh:
        return outcomes
    placements = plan_batch(existing, fresh, reopen_after)
    owners = [p.state for p in placements]
    known = _known_contacts(connection, [s.id for s in existing.values() if s.id is not None])
    _save_shipments(connection, {id(s): s for s in owners}.values(), now)
    row_ids = _insert_events(connection, fresh, owners, now)
    _insert_contacts(connection, fresh, owners, now, known)
    if settings is not None:
        stored = [
            StoredEvent(
                event=event,
                row_id=row_id,
                shipment_id=placement.state.id or 0,
                shipment_locale=placement.state.recipient_locale,
                transition=placement.transition,
            )
            for event, row_id, placement in zip(fresh, row_ids, placements, strict=True)
        ]
        enqueue_notifications(connection, stored, settings=settings, now=now)
        _update_links(connection, stored, settings=settings, now=now)
    return outcomes


def _update_links(
    connection: Connection, stored: list[StoredEvent], *, settings: Settings, now: datetime
) -> None:
    """A missed delivery gets a rebooking link; a parcel that is gone ends its links.

    Only the batch's last word on each shipment counts, and only when it became the
    shipment's status: a late, older attempt must not replace the slip in the letterbox.
    """
    last: dict[int, StoredEvent] = {}
    for item in stored:
        if item.transition.took_over:
            last[item.shipment_id] = item
    attempts = [
        Attempt(
            shipment_id=item.shipment_id,
            status_event_id=item.row_id,
            occurred_at=item.event.occurred_at,
            held_until=item.event.held_until,
        )
        for item in last.values()
        if item.event.status is Status.DELIVERY_ATTEMPTED
    ]
    ended = [i.shipment_id for i in last.values() if i.event.status in TERMINAL_STATUSES]
    revoke_links(connection, ended, now=now)
    if attempts:
        issue_links(connection, attempts, key=secret_key(settings), settings=settings, now=now)


def _latest_shipments(
    connection: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], ShipmentState]:
    """The newest generation of each shipment."""
    query = select(*_LOADED_COLUMNS).where(
        pair_of(connection, SHIPMENTS.c.carrier, SHIPMENTS.c.tracking_number, keys)
    )
    latest: dict[tuple[str, str], ShipmentState] = {}
    for row in connection.execute(query):
        key = (row.carrier, row.tracking_number)
        if key not in latest or row.generation > latest[key].generation:
            state = ShipmentState(**row._asdict())
            state.status = Status(state.status)
            latest[key] = state
    return latest


def _existing_event_keys(connection: Connection, events: Sequence[Event]) -> set[tuple[str, str]]:
    wanted = {(e.source, e.event_id) for e in events}
    query = select(EVENTS.c.source, EVENTS.c.event_id).where(
        pair_of(connection, EVENTS.c.source, EVENTS.c.event_id, wanted)
    )
    return {(source, event_id) for source, event_id in connection.execute(query)}


def _save_shipments(connection: Connection, states: Iterable[ShipmentState], now: datetime) -> None:
    new = [s for s in states if s.id is None]
    changed = [s for s in states if s.id is not None and s.changed]
    if new:
        rows = [{**_row(s), "created_at": now, "updated_at": now} for s in new]
        for row in rows:
            del row["id"]
        # RETURNING without sort_by_parameter_order keeps SQLAlchemy's batched
        # "insertmanyvalues" path (with it, SQLite gets one INSERT per row); rows are
        # matched back by their unique key instead.
        inserted = connection.execute(
            SHIPMENTS.insert().returning(
                SHIPMENTS.c.id,
                SHIPMENTS.c.carrier,
                SHIPMENTS.c.tracking_number,
                SHIPMENTS.c.generation,
            ),
            rows,
        )
        ids = {(r.carrier, r.tracking_number, r.generation): r.id for r in inserted}
        for state in new:
            state.id = ids[(state.carrier, state.tracking_number, state.generation)]
    # Each row gets only the facts that moved: fewer values to convert and write, and
    # the unique index on (carrier, tracking_number, generation) is left alone.
    groups: dict[tuple[str, ...], list[ShipmentState]] = {}
    for state in changed:
        names = tuple(sorted(state.dirty)) if state.dirty else tuple(_STATE_COLUMNS)
        groups.setdefault(names, []).append(state)
    for names, members in groups.items():
        statement = (
            update(SHIPMENTS)
            .where(SHIPMENTS.c.id == bindparam("_id"))
            .values({name: bindparam(f"v_{name}") for name in (*names, "updated_at")})
        )
        params = []
        for state in members:
            values = {f"v_{name}": _column_value(state, name) for name in names}
            params.append({"_id": state.id, "v_updated_at": now, **values})
        connection.execute(statement, params)


def _row(state: ShipmentState) -> dict[str, Any]:
    row = state.facts()
    row["status"] = str(state.status)
    row["reason"] = str(state.reason) if state.reason else None
    return row


def _column_value(state: ShipmentState, name: str) -> Any:
    value = getattr(state, name)
    if name in ("status", "reason"):
        return str(value) if value else None
    return value


def _insert_events(
    connection: Connection, events: list[Event], owners: list[ShipmentState], now: datetime
) -> list[int]:
    rows = [
        {
            "source": e.source,
            "event_id": e.event_id,
            "shipment_id": owner.id,
            "status": str(e.status),
            "reason": str(e.reason) if e.reason else None,
            "raw_status": e.raw_status,
            "raw_reason": e.raw_reason,
            "occurred_at": e.occurred_at,
            "received_at": now,
            "payload": e.payload,
        }
        for e, owner in zip(events, owners, strict=True)
    ]
    inserted = connection.execute(
        EVENTS.insert().returning(EVENTS.c.id, EVENTS.c.source, EVENTS.c.event_id), rows
    )
    ids = {(row.source, row.event_id): row.id for row in inserted}
    return [ids[(e.source, e.event_id)] for e in events]


def _known_contacts(connection: Connection, shipment_ids: list[int]) -> set[tuple[int, str, str]]:
    """The (shipment_id, kind, value) already stored for these shipments."""
    if not shipment_ids:
        return set()
    query = select(CONTACTS.c.shipment_id, CONTACTS.c.kind, CONTACTS.c.value).where(
        one_of(connection, CONTACTS.c.shipment_id, shipment_ids)
    )
    return {(shipment_id, kind, value) for shipment_id, kind, value in connection.execute(query)}


def _insert_contacts(
    connection: Connection,
    events: list[Event],
    owners: list[ShipmentState],
    now: datetime,
    known: set[tuple[int, str, str]],
) -> None:
    # Most events repeat their shipment's contacts: skipping the known ones spares an
    # insert-or-ignore per contact per event.
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event, owner in zip(events, owners, strict=True):
        for contact in event.contacts:
            key = (owner.id, str(contact.kind), contact.value)
            if key in known or key in rows:
                continue
            rows[key] = {
                "shipment_id": owner.id,
                "kind": key[1],
                "value": contact.value,
                "valid": contact.valid,
                "invalid_reason": contact.invalid_reason,
                "created_at": now,
            }
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CONTACTS).on_conflict_do_nothing(
        index_elements=["shipment_id", "kind", "value"]
    )
    connection.execute(statement, list(rows.values()))


def payload_text(payload: Any) -> str:
    """The raw payload as stored, for sources that hand us parsed JSON."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate somewhere in an unvalidated field
        return json.dumps(payload, separators=(",", ":"))
    return text
