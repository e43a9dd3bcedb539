"""Checked events across a process boundary as plain tuples, and back.

Pickling an Event itself costs the receiver about 14 us (a frozen, slotted dataclass is
rebuilt field by field through __setstate__); a tuple of strings, numbers and datetimes
unpickles in about 1.5 us, and the Event is then built once, directly.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Any

from notifier.carriers.contacts import CONTACT_CACHE_SIZE
from notifier.vocabulary import KIND_BY_VALUE, REASON_BY_VALUE, STATUS_BY_VALUE, ContactPoint, Event

_FIELDS = tuple(f.name for f in fields(Event))
_STATUS = _FIELDS.index("status")
_REASON = _FIELDS.index("reason")
_CONTACTS = _FIELDS.index("contacts")

Wire = tuple[Any, ...]


def to_wire(event: Event) -> Wire:
    """The event's fields in order, enums as their values, contacts as tuples."""
    values = [getattr(event, name) for name in _FIELDS]
    values[_STATUS] = event.status.value
    values[_REASON] = event.reason.value if event.reason is not None else None
    values[_CONTACTS] = tuple(
        (c.kind.value, c.value, c.valid, c.invalid_reason) for c in event.contacts
    )
    return tuple(values)


def from_wire(wire: Wire) -> Event:
    values = list(wire)
    values[_STATUS] = STATUS_BY_VALUE[wire[_STATUS]]
    reason = wire[_REASON]
    values[_REASON] = REASON_BY_VALUE[reason] if reason is not None else None
    values[_CONTACTS] = tuple(_contact(*contact) for contact in wire[_CONTACTS])
    return Event(*values)


# A shipment's contacts come with each of its events: one object serves them all.
@lru_cache(maxsize=CONTACT_CACHE_SIZE)
def _contact(kind: str, value: str, valid: bool, why: str | None) -> ContactPoint:
    return ContactPoint(KIND_BY_VALUE[kind], value, valid, why)
