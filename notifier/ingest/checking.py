"""Turning raw input items (file lines, request elements) into events to store or rejections.

Kept apart from storing so a second process can check a file's lines (filecheck.py)
without importing the database side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from notifier.carriers import Parser
from notifier.carriers.native import parse_native_event, shown_id
from notifier.errors import EventRejectedError, FieldError
from notifier.vocabulary import Event


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    # An event id stored before, sent again saying something else: the first is kept (it
    # may have been acted on) and the sender is told, rather than a silent duplicate.
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one input item (a line of a file, an element of a request)."""

    position: int
    outcome: Outcome
    event_id: str | None = None
    errors: tuple[FieldError, ...] = ()
    unknown_status: bool = False


@dataclass(frozen=True, slots=True)
class Incoming:
    """One raw input item with its position (line number or array index)."""

    position: int
    payload: Any
    raw: str
    error: FieldError | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid event, ready to store, with its input position."""

    position: int
    event: Event


def check(item: Incoming, *, default_region: str, now: datetime) -> Checked | ItemResult:
    """The item as an event to store, or its rejection naming every bad field."""
    if item.error is not None:
        return ItemResult(item.position, Outcome.REJECTED, None, (item.error,))
    try:
        event = parse_native_event(
            item.payload, raw=item.raw, default_region=default_region, now=now
        )
    except EventRejectedError as exc:
        event_id = item.payload.get("event_id") if isinstance(item.payload, dict) else None
        return ItemResult(item.position, Outcome.REJECTED, shown_id(event_id), tuple(exc.errors))
    return Checked(item.position, event)


def check_payload(
    item: Incoming, *, parser: Parser, default_region: str, now: datetime
) -> list[Checked | ItemResult]:
    """`check` for any registered format: the item's events, each at the item's position,
    or its one rejection. An aggregator's payload may hold none or several events."""
    if item.error is not None:
        return [ItemResult(item.position, Outcome.REJECTED, None, (item.error,))]
    try:
        events = parser(item.payload, raw=item.raw, default_region=default_region, now=now)
    except EventRejectedError as exc:
        event_id = item.payload.get("event_id") if isinstance(item.payload, dict) else None
        return [ItemResult(item.position, Outcome.REJECTED, shown_id(event_id), tuple(exc.errors))]
    return [Checked(item.position, event) for event in events]
