"""The SQL of storing a batch of events: what is stored already, shipments, events, contacts.

Every function here runs inside ingest's batch transaction, through `Bulk`: a batch is
a few statements whatever its size (see bulk.py for why not Core).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from notifier.db.bulk import Bulk, one_of
from notifier.db.tables import CONTACTS, EVENTS, SHIPMENTS
from notifier.tracking import STATE_FIELDS, ShipmentState
from notifier.vocabulary import STATUS_BY_VALUE, ContactKind, Event

# A shipment's columns in ShipmentState's field order, so a row becomes a state by position.
_DATETIME_FIELDS = frozenset({"status_occurred_at", "first_event_at"})
_DATE_FIELDS = frozenset({"next_attempt_date", "held_until", "estimated_delivery"})
_NEW_FIELDS = tuple(f for f in STATE_FIELDS if f != "id")
_NEW_SHIPMENT_COLUMNS = (*_NEW_FIELDS, "created_at", "updated_at")
# Where a fetched row's values need converting: by name, so a new field cannot shift them.
_AT = {name: i for i, name in enumerate(STATE_FIELDS)}
_WHEN_AT = tuple(_AT[name] for name in sorted(_DATETIME_FIELDS))
_DAY_AT = tuple(_AT[name] for name in sorted(_DATE_FIELDS))
_STATUS_AT = _AT["status"]
_EVENT_COLUMNS = (
    "source",
    "event_id",
    "shipment_id",
    "status",
    "reason",
    "raw_status",
    "raw_reason",
    "occurred_at",
    "received_at",
    "payload",
)
_CONTACT_COLUMNS = ("shipment_id", "kind", "value", "valid", "invalid_reason", "created_at")


def latest_shipments(
    bulk: Bulk, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], ShipmentState]:
    """The newest generation of each (carrier, tracking_number) already stored."""
    numbers: dict[str, list[str]] = {}
    for carrier, number in keys:
        numbers.setdefault(carrier, []).append(number)
    sql = bulk.select_in(SHIPMENTS, STATE_FIELDS, equal=["carrier"], within="tracking_number")
    latest: dict[tuple[str, str], ShipmentState] = {}
    when, day = bulk.read_when, bulk.read_day
    for carrier, group in numbers.items():
        for row in bulk.fetch(sql, carrier, bulk.values(group)):
            key = (row.carrier, row.tracking_number)
            if key in latest and latest[key].generation > row.generation:
                continue
            values = list(row)
            for i in _WHEN_AT:
                values[i] = when(values[i])
            for i in _DAY_AT:
                values[i] = day(values[i])
            values[_STATUS_AT] = STATUS_BY_VALUE[values[_STATUS_AT]]
            latest[key] = ShipmentState(*values)
    return latest


def stored_event_keys(bulk: Bulk, events: Sequence[Event]) -> set[tuple[str, str]]:
    """Which (source, event_id) of these events are stored already."""
    ids: dict[str, list[str]] = {}
    for event in events:
        ids.setdefault(event.source, []).append(event.event_id)
    sql = bulk.select_in(EVENTS, ["event_id"], equal=["source"], within="event_id")
    return {
        (source, event_id)
        for source, group in ids.items()
        for (event_id,) in bulk.fetch(sql, source, bulk.values(group))
    }


# What an event says, for telling a resend from a different event under the same id: the
# parcel, the provider's own status and reason codes, and when. Not the payload's text
# (a sender may re-serialise it) and not facts a later resend may fill in.
EventContent = tuple[str, str, str | None, datetime]


def event_content(event: Event) -> EventContent:
    return (event.tracking_number, event.raw_status, event.raw_reason, event.occurred_at)


def stored_content(
    connection: Connection, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], EventContent]:
    """What the stored events of these (source, event_id) said. Read only for the keys
    found stored already, which a normal feed has few of."""
    by_source: dict[str, list[str]] = {}
    for source, event_id in keys:
        by_source.setdefault(source, []).append(event_id)
    found: dict[tuple[str, str], EventContent] = {}
    for source, event_ids in by_source.items():
        query = (
            select(
                EVENTS.c.event_id,
                SHIPMENTS.c.tracking_number,
                EVENTS.c.raw_status,
                EVENTS.c.raw_reason,
                EVENTS.c.occurred_at,
            )
            .join(SHIPMENTS, SHIPMENTS.c.id == EVENTS.c.shipment_id)
            .where(EVENTS.c.source == source, one_of(connection, EVENTS.c.event_id, event_ids))
        )
        for row in connection.execute(query):
            found[(source, row.event_id)] = (
                row.tracking_number,
                row.raw_status,
                row.raw_reason,
                row.occurred_at,
            )
    return found


def save_shipments(bulk: Bulk, states: Iterable[ShipmentState], now: datetime) -> None:
    """Insert the new states (setting their ids) and write what moved in the others."""
    new = [s for s in states if s.id is None]
    changed = [s for s in states if s.id is not None and s.changed]
    stamp = bulk.when(now)
    if new:
        rows = [(*_values(bulk, s, _NEW_FIELDS), stamp, stamp) for s in new]
        ids = bulk.insert_returning_ids(SHIPMENTS, _NEW_SHIPMENT_COLUMNS, rows)
        for state, new_id in zip(new, ids, strict=True):
            state.id = new_id
    # Each row gets only the facts that moved: fewer values to convert and write, and
    # the unique index on (carrier, tracking_number, generation) is left alone.
    groups: dict[tuple[str, ...], list[ShipmentState]] = {}
    for state in changed:
        names = tuple(sorted(state.dirty)) if state.dirty else _NEW_FIELDS
        groups.setdefault(names, []).append(state)
    for names, members in groups.items():
        sql = bulk.update_sql(SHIPMENTS, (*names, "updated_at"))
        bulk.execute_many(sql, [(*_values(bulk, s, names), stamp, s.id) for s in members])


def _values(bulk: Bulk, state: ShipmentState, names: Sequence[str]) -> tuple[Any, ...]:
    values = []
    for name in names:
        value = getattr(state, name)
        if value is not None:
            if name in _DATETIME_FIELDS:
                value = bulk.when(value)
            elif name in _DATE_FIELDS:
                value = bulk.day(value)
            elif name == "status" or name == "reason":
                value = str(value)
        values.append(value)
    return tuple(values)


def insert_events(
    bulk: Bulk, events: Sequence[Event], owners: Sequence[ShipmentState], now: datetime
) -> list[int]:
    """Store the events; their new ids, in order."""
    received = bulk.when(now)
    when = bulk.when
    rows = [
        (
            e.source,
            e.event_id,
            owner.id,
            str(e.status),
            str(e.reason) if e.reason else None,
            e.raw_status,
            e.raw_reason,
            when(e.occurred_at),
            received,
            e.payload,
        )
        for e, owner in zip(events, owners, strict=True)
    ]
    return bulk.insert_returning_ids(EVENTS, _EVENT_COLUMNS, rows)


class ContactsSeen:
    """The (shipment id, kind, value) of contacts known to be stored, for one import.

    Contact rows are never deleted, so a contact once stored stays stored: within an
    import each shipment's contacts are written once instead of being looked up again
    for every one of its events. Keys are added only after their batch commits, so a
    batch rolled back leaves nothing here that the database lacks.
    """

    # About 13 MB: the contacts of 32,768 shipments, more than a day's deliveries are
    # under way at once in a large depot's export. Past it the set starts again, empty.
    LIMIT = 65_536

    def __init__(self) -> None:
        self.keys: set[tuple[int, ContactKind, str]] = set()

    def remember(self, keys: set[tuple[int, ContactKind, str]]) -> None:
        if len(self.keys) + len(keys) > self.LIMIT:
            self.keys.clear()
        self.keys |= keys


def insert_contacts(
    bulk: Bulk,
    events: Sequence[Event],
    owners: Sequence[ShipmentState],
    seen: ContactsSeen,
    now: datetime,
) -> set[tuple[int, ContactKind, str]]:
    """Store the events' contacts not seen stored; their keys, to remember once committed.

    A contact stored before this import is skipped by the unique key, not an error.
    """
    stamp = bulk.when(now)
    batch: set[tuple[int, ContactKind, str]] = set()
    rows = []
    for event, owner in zip(events, owners, strict=True):
        shipment_id = owner.id
        assert shipment_id is not None
        for contact in event.contacts:
            key = (shipment_id, contact.kind, contact.value)
            if key in seen.keys or key in batch:
                continue
            batch.add(key)
            rows.append(
                (
                    shipment_id,
                    contact.kind.value,
                    contact.value,
                    contact.valid,
                    contact.invalid_reason,
                    stamp,
                )
            )
    if rows:
        unique = ("shipment_id", "kind", "value")
        bulk.execute_many(bulk.insert_sql(CONTACTS, _CONTACT_COLUMNS, unique=unique), rows)
    return batch
