"""A shipment's state as its events arrive: ordering, terminal states, recycled tracking numbers.

Pure functions over plain data; ingest.py loads and stores what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from notifier.vocabulary import TERMINAL_STATUSES, Event, Status

# Facts that belong to one status: a newer status replaces them even with nothing, so a
# DELIVERED shipment does not keep showing last week's "next attempt".
STATUS_FACTS = ("next_attempt_date", "next_attempt_window", "held_until", "pickup_point")
# Facts about the parcel: any event that knows them may fill them; the newest one wins.
DURABLE_FACTS = (
    "depot",
    "route_stop",
    "estimated_delivery",
    "recipient_name",
    "recipient_postcode",
    "recipient_address",
    "recipient_locale",
    "sender_name",
)


@dataclass(slots=True)
class ShipmentState:
    carrier: str
    tracking_number: str
    generation: int
    status: Status
    reason: str | None
    status_occurred_at: datetime
    first_event_at: datetime
    id: int | None = None
    depot: str | None = None
    route_stop: int | None = None
    next_attempt_date: date | None = None
    next_attempt_window: str | None = None
    held_until: date | None = None
    pickup_point: str | None = None
    estimated_delivery: date | None = None
    recipient_name: str | None = None
    recipient_postcode: str | None = None
    recipient_address: str | None = None
    recipient_locale: str | None = None
    sender_name: str | None = None
    changed: bool = field(default=False, compare=False)
    # The facts an event moved since the state was loaded: all an UPDATE has to write.
    dirty: set[str] = field(default_factory=set, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.carrier, self.tracking_number)


@dataclass(frozen=True, slots=True)
class Transition:
    """What one event did to its shipment when it was folded in."""

    took_over: bool  # it became the current status (not late, not behind a terminal state)
    previous_status: Status | None  # None when the event opened the shipment
    previous_status_at: datetime | None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an event of a batch went, and what it did there."""

    state: ShipmentState
    transition: Transition


# The stored facts, in field order (what a shipments row holds, bar its timestamps).
STATE_FIELDS = tuple(f.name for f in fields(ShipmentState) if f.name not in ("changed", "dirty"))


def open_shipment(event: Event, generation: int) -> ShipmentState:
    state = ShipmentState(
        carrier=event.carrier,
        tracking_number=event.tracking_number,
        generation=generation,
        status=event.status,
        reason=event.reason,
        status_occurred_at=event.occurred_at,
        first_event_at=event.occurred_at,
        changed=True,
    )
    for name in (*STATUS_FACTS, *DURABLE_FACTS):
        setattr(state, name, getattr(event, name))
    return state


def starts_new_generation(state: ShipmentState, event: Event, reopen_after: timedelta) -> bool:
    """A CREATED long after the shipment ended is a recycled tracking number."""
    return (
        event.status is Status.CREATED
        and state.status in TERMINAL_STATUSES
        and event.occurred_at - state.status_occurred_at > reopen_after
    )


def takes_over_status(state: ShipmentState, event: Event) -> bool:
    """Whether the event becomes the shipment's current status."""
    if event.status is Status.UNKNOWN:
        return False  # an unmapped code says nothing about where the parcel is
    if state.status is Status.UNKNOWN:
        return True
    if event.occurred_at < state.status_occurred_at:
        return False  # late arrival: stored, but never moves the status backwards
    # Terminal states hold against anything but another terminal state (a returned
    # parcel can still be delivered back to the sender).
    return state.status not in TERMINAL_STATUSES or event.status in TERMINAL_STATUSES


def apply_event(state: ShipmentState, event: Event) -> Transition:
    """Fold one event into the state; sets state.changed when anything moved."""
    transition = Transition(
        took_over=takes_over_status(state, event),
        previous_status=state.status,
        previous_status_at=state.status_occurred_at,
    )
    # Only the fields the event may set are compared: snapshotting the whole state
    # before and after cost more than the rest of the fold.
    updates: dict[str, Any]
    if transition.took_over:
        updates = {
            "status": event.status,
            "reason": event.reason,
            "status_occurred_at": event.occurred_at,
        }
        for name in STATUS_FACTS:
            updates[name] = getattr(event, name)
        for name in DURABLE_FACTS:
            value = getattr(event, name)
            if value is not None:
                updates[name] = value
    else:
        updates = {
            name: getattr(event, name) for name in DURABLE_FACTS if getattr(state, name) is None
        }
    if event.occurred_at < state.first_event_at:
        updates["first_event_at"] = event.occurred_at
    for name, value in updates.items():
        if getattr(state, name) != value:
            setattr(state, name, value)
            state.dirty.add(name)
            state.changed = True
    return transition


def plan_batch(
    existing: dict[tuple[str, str], ShipmentState],
    events: list[Event],
    reopen_after: timedelta,
) -> list[Placement]:
    """The shipment each event belongs to, in input order; folds every event in.

    Events of one shipment are applied oldest first, so a batch holding a whole
    history ends where the newest event says, whatever the order of the input.
    """
    latest = dict(existing)
    placed: dict[int, Placement] = {}
    order = sorted(range(len(events)), key=lambda i: events[i].occurred_at)
    for index in order:
        event = events[index]
        key = (event.carrier, event.tracking_number)
        state = latest.get(key)
        if state is None or starts_new_generation(state, event, reopen_after):
            generation = 1 if state is None else state.generation + 1
            state = latest[key] = open_shipment(event, generation=generation)
            opened = event.status is not Status.UNKNOWN
            placed[index] = Placement(state, Transition(opened, None, None))
        else:
            placed[index] = Placement(state, apply_event(state, event))
    return [placed[i] for i in range(len(events))]
