"""Storing validated events idempotently, a batch per transaction, and updating shipments."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine

from notifier import metrics
from notifier.config import Settings
from notifier.config.settings import Ingest
from notifier.db.bulk import Bulk
from notifier.db.engine import write_transaction
from notifier.db.locks import take_writers_turn
from notifier.errors import FieldError
from notifier.ingest.checking import Checked, Incoming, ItemResult, Outcome, check
from notifier.ingest.enqueue import StoredEvent, enqueue_notifications
from notifier.ingest.store import (
    ContactsSeen,
    event_content,
    insert_contacts,
    insert_events,
    latest_shipments,
    save_shipments,
    stored_content,
    stored_event_keys,
)
from notifier.rebooking.links import Attempt, ensure_links
from notifier.rebooking.promise_store import Announced, record_announced, settle_deliveries
from notifier.rebooking.promises import day_window
from notifier.tracking import Placement, plan_batch
from notifier.vocabulary import ContactKind, Event, Status

_CONFLICT = FieldError(
    "event_id",
    "stored before with another tracking number, status, reason or time: the first is kept",
)


@dataclass(slots=True)
class Summary:
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    unknown_statuses: int = 0
    rejections: list[ItemResult] = field(default_factory=list)

    def count(self, result: ItemResult) -> None:
        if result.outcome is Outcome.STORED:
            self.stored += 1
            self.unknown_statuses += result.unknown_status
        elif result.outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        elif result.outcome is Outcome.CONFLICT:
            self.conflicts += 1
        else:
            self.rejected += 1


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
    region = settings.company.default_phone_region
    checked = (check(item, default_region=region, now=now()) for item in items)
    return store_checked(
        engine, checked, settings=settings, now=now, batch_size=batch_size, notify=notify
    )


def store_checked(
    engine: Engine,
    checked: Iterable[Checked | ItemResult],
    *,
    settings: Settings,
    now: Callable[[], datetime],
    batch_size: int | None = None,
    notify: bool = True,
) -> Iterator[ItemResult]:
    """Store checked items a batch at a time (see `ingest`); rejections pass through."""
    size = batch_size or settings.ingest.batch_size
    store = partial(
        store_events,
        engine,
        settings=settings if notify else None,
        contacts_seen=ContactsSeen(),
    )
    pending: list[ItemResult] = []
    batch: list[Checked] = []
    for item in checked:
        if isinstance(item, ItemResult):
            pending.append(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield from _flush(store, batch, pending, now())
            batch, pending = [], []
    yield from _flush(store, batch, pending, now())


def _flush(
    store: Callable[..., list[Outcome]],
    batch: list[Checked],
    pending: list[ItemResult],
    now: datetime,
) -> Iterator[ItemResult]:
    results = list(pending)
    for rejected in pending:
        metrics.count_event(rejected.outcome, None, None)
    if batch:
        outcomes = store([item.event for item in batch], now=now)
        for item, outcome in zip(batch, outcomes, strict=True):
            event = item.event
            # Committed: counted once.
            metrics.count_event(outcome, event.status.value, event.source)
            unknown = event.status is Status.UNKNOWN
            errors = (_CONFLICT,) if outcome is Outcome.CONFLICT else ()
            results.append(ItemResult(item.position, outcome, event.event_id, errors, unknown))
    results.sort(key=lambda r: r.position)
    yield from results


def store_events(
    engine: Engine,
    events: Sequence[Event],
    *,
    now: datetime,
    settings: Settings | None,
    reopen_after: timedelta | None = None,
    contacts_seen: ContactsSeen | None = None,
) -> list[Outcome]:
    """Store one batch in one transaction; an outcome per event, in order.

    With settings, the batch's messages are enqueued in that same transaction.
    `contacts_seen` carries what earlier batches of the same import stored.
    """
    if reopen_after is None:
        reopen_after = settings.ingest.reopen_after if settings else Ingest().reopen_after
    seen = contacts_seen if contacts_seen is not None else ContactsSeen()
    with write_transaction(engine) as connection:
        take_writers_turn(connection)  # one batch at a time (db/locks.py says why)
        outcomes, contact_keys = _store(connection, events, now, reopen_after, settings, seen)
    seen.remember(contact_keys)  # committed
    return outcomes


def _store(
    connection: Connection,
    events: Sequence[Event],
    now: datetime,
    reopen_after: timedelta,
    settings: Settings | None,
    contacts_seen: ContactsSeen,
) -> tuple[list[Outcome], set[tuple[int, ContactKind, str]]]:
    bulk = Bulk(connection)
    existing = latest_shipments(bulk, {(e.carrier, e.tracking_number) for e in events})
    seen = stored_event_keys(bulk, events)
    said = stored_content(connection, seen) if seen else {}
    outcomes: list[Outcome] = []
    fresh: list[Event] = []
    for event in events:
        key = (event.source, event.event_id)
        if key in seen:
            before = said.get(key)
            same = before is None or before == event_content(event)
            outcomes.append(Outcome.DUPLICATE if same else Outcome.CONFLICT)
        else:
            seen.add(key)
            said[key] = event_content(event)  # a second copy in this batch is judged too
            fresh.append(event)
            outcomes.append(Outcome.STORED)
    if not fresh:
        return outcomes, set()
    placements = plan_batch(existing, fresh, reopen_after)
    owners = [p.state for p in placements]
    save_shipments(bulk, {id(s): s for s in owners}.values(), now)
    row_ids = insert_events(bulk, fresh, owners, now)
    contact_keys = insert_contacts(bulk, fresh, owners, contacts_seen, now)
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
        announced = _announced(fresh, row_ids, placements, settings=settings, now=now)
        record_announced(connection, announced, settings=settings, now=now)
    settle_deliveries(connection, _deliveries(fresh, placements), now=now)
    return outcomes, contact_keys


def _announced(
    fresh: Sequence[Event],
    row_ids: Sequence[int],
    placements: Sequence[Placement],
    *,
    settings: Settings,
    now: datetime,
) -> list[Announced]:
    """The next attempts the batch's missed deliveries announce: a promise each.

    Only an attempt that became its shipment's status announces anything (a late, older
    one was overtaken), and only while its window is still ahead: an announcement over
    by the time it reaches us (a backfill, a replayed file) promised nothing we can keep.
    """
    found = []
    for event, row_id, placement in zip(fresh, row_ids, placements, strict=True):
        day = event.next_attempt_date
        if (
            event.status is not Status.DELIVERY_ATTEMPTED
            or day is None
            or not placement.transition.took_over
            or day_window(day, event.next_attempt_window, settings).end <= now
        ):
            continue
        state = placement.state
        assert state.id is not None
        found.append(Announced(state.id, row_id, state.depot, day, event.next_attempt_window))
    return found


def _deliveries(fresh: Sequence[Event], placements: Sequence[Placement]) -> dict[int, datetime]:
    """Each shipment the batch delivers to its recipient: when (the event's own time).

    A late DELIVERED still tells when the parcel arrived; one after RETURNING is the
    parcel's return to its sender, which keeps no promise made to the recipient.
    """
    found: dict[int, datetime] = {}
    for event, placement in zip(fresh, placements, strict=True):
        if (
            event.status is not Status.DELIVERED
            or placement.transition.previous_status is Status.RETURNING
        ):
            continue
        shipment_id = placement.state.id
        assert shipment_id is not None
        when = found.get(shipment_id)
        found[shipment_id] = event.occurred_at if when is None else min(when, event.occurred_at)
    return found


# The events whose messages invite a choice: a link to the parcel's page must exist.
_ANNOUNCED = frozenset({Status.CREATED, Status.OUT_FOR_DELIVERY})


def _update_links(
    connection: Connection, stored: list[StoredEvent], *, settings: Settings, now: datetime
) -> None:
    """Each parcel whose news invites a choice has a live link to its page.

    Only the batch's last word on each shipment counts, and only when it became the
    shipment's status: a late, older attempt must not take over the slip in the letterbox.
    A parcel that is delivered, returned or cancelled keeps its link until it expires:
    the page then says so, in the recipient's language, and offers no choice.
    """
    last: dict[int, StoredEvent] = {}
    for item in stored:
        # The batch was folded oldest first (tracking.plan_batch): every event that took
        # over did so in time order, whatever the input order, so the newest is the word.
        kept = last.get(item.shipment_id)
        newer = kept is None or item.event.occurred_at >= kept.event.occurred_at
        if item.transition.took_over and newer:
            last[item.shipment_id] = item
    needs = [
        Attempt(
            shipment_id=item.shipment_id,
            status_event_id=item.row_id,
            occurred_at=item.event.occurred_at,
            held_until=item.event.held_until,
            attempted=item.event.status is Status.DELIVERY_ATTEMPTED,
        )
        for item in last.values()
        if item.event.status is Status.DELIVERY_ATTEMPTED or item.event.status in _ANNOUNCED
    ]
    ensure_links(connection, needs, key=settings.link_key, settings=settings, now=now)


def payload_text(payload: Any) -> str:
    """The raw payload as stored, for sources that hand us parsed JSON."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate somewhere in an unvalidated field
        return json.dumps(payload, separators=(",", ":"))
    return text
