"""Aggregator payloads checked as native events, every error naming the provider's field.

The provider's fields are laid out as a native event and native.py checks them: one set
of rules (tracking numbers, offsets, phones, emails) for every source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from notifier.carriers.native import parse_native_event
from notifier.errors import EventRejectedError, FieldError
from notifier.vocabulary import Event, Reason, Status

MAX_EVENT_ID = 128  # the native limit (carriers/native.py)

T = TypeVar("T")


def rejected(field: str, reason: str) -> EventRejectedError:
    return EventRejectedError([FieldError(field, reason)])


def as_object(value: Any, field: str) -> Mapping[str, Any]:
    """`value` as a JSON object, or a rejection naming `field`."""
    if isinstance(value, Mapping):
        return value
    kind = "nothing" if value is None else type(value).__name__
    raise rejected(field, f"must be an object, got {kind}")


def as_list(value: Any, field: str) -> list[Any]:
    """`value` as a JSON array (absent: empty), or a rejection naming `field`."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise rejected(field, f"must be an array, got {type(value).__name__}")


def code(value: Any) -> str | None:
    """A provider's status code as text; blank or not text is no code."""
    return value.strip() or None if isinstance(value, str) else None


def first_mapped(table: Mapping[str, T], codes: Iterable[str | None]) -> T | None:
    """The entry of the first code (most specific first) that `table` knows."""
    for candidate in codes:
        if candidate is not None and candidate in table:
            return table[candidate]
    return None


def raw_code(*codes: str | None) -> str:
    """The provider's codes as stored: most general first, "status/detail"."""
    return "/".join(c for c in codes if c)[:128]


def stable_id(*parts: str | None) -> str:
    """An event id from the provider's own ids and times: a replayed payload gives the same.

    Long parts (a 64-character tracking number and a carrier slug) could pass the native
    limit; the digest keeps such an id stable and short.
    """
    text = ":".join(p or "-" for p in parts)
    if len(text) <= MAX_EVENT_ID:
        return text
    return f"{parts[0] or '-'}:sha256:{hashlib.sha256(text.encode()).hexdigest()}"[:MAX_EVENT_ID]


def build_event(
    native: dict[str, Any],
    *,
    where: Mapping[str, str],
    raw_status: str,
    raw_reason: str | None,
    raw: str,
    default_region: str,
    now: datetime,
) -> Event:
    """Check `native` (a native event's fields) as native.py does; errors name `where[field]`.

    The native checks give the same normalised tracking number, the same refusal of a
    time without an offset, the same phone and email checks for every source.
    """
    try:
        event = parse_native_event(native, raw=raw, default_region=default_region, now=now)
    except EventRejectedError as exc:
        errors = [FieldError(where.get(e.field, e.field), e.reason) for e in exc.errors]
        raise EventRejectedError(errors) from None
    return replace(event, raw_status=raw_status, raw_reason=raw_reason)


def status_fields(status: Status | None, reason: Reason | None) -> dict[str, str]:
    """The native status and reason; an unmapped code is UNKNOWN: stored, never notified."""
    fields = {"status": (status or Status.UNKNOWN).value}
    if reason is not None:
        fields["reason"] = reason.value
    return fields


def day(value: Any) -> str | None:
    """The date part of a provider's date or timestamp ("2026-11-23T00:00:00Z")."""
    return value[:10] if isinstance(value, str) and value else None
