"""notifier's own event format (design section 5): checked into an Event, every bad field named."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from notifier.carriers.contacts import parse_email, parse_phone
from notifier.errors import EventRejectedError, FieldError
from notifier.untrusted import clean_line
from notifier.vocabulary import (
    REASON_BY_VALUE,
    STATUS_BY_VALUE,
    ContactPoint,
    Event,
    Reason,
    Status,
)

REQUIRED = ("event_id", "tracking_number", "status", "occurred_at")
DEFAULT_SOURCE = "default"
# A clock that runs ahead would pin a shipment to a future status that hides real ones.
MAX_CLOCK_SKEW = timedelta(hours=24)

_TRACKING = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,63}$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
# The lines of `recipient.address` (CSV: `recipient.address.line1`), in reading order, each
# with its longest; together they fit the shipments column (266 of its 300 characters).
ADDRESS_LINES = (("line1", 100), ("line2", 100), ("city", 64))


class _Fields:
    """Collects every problem of one payload so the sender can fix them all at once."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.errors: list[FieldError] = []

    def fail(self, name: str, reason: str) -> None:
        self.errors.append(FieldError(name, reason))

    def get(self, name: str) -> Any:
        group, _, leaf = name.rpartition(".")
        if "." in group:  # recipient.address.line1: its group is itself a field
            container: Any = self.get(group)
        else:
            container = self.payload.get(group) if group else self.payload
        # Cheap checks first: an isinstance check against the Mapping ABC, ~20 times an
        # event, was a tenth of the cost of validating one.
        if container is None or (
            type(container) is not dict and not isinstance(container, Mapping)
        ):
            return None
        value = container.get(leaf)
        return None if value == "" else value

    def text(self, name: str, *, max_length: int, required: bool = False) -> str | None:
        value = self.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        if type(value) is str:
            text = value.strip()
        elif isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(name, f"must be a string, got {type(value).__name__}")
            return None
        else:
            text = str(value).strip()
        if not text.isascii() and not _is_unicode(text):
            self.fail(name, "contains an unpaired surrogate (\\ud800-\\udfff), not text")
            return None
        if "\x00" in text:  # PostgreSQL text cannot hold NUL; no person typed one
            self.fail(name, "contains a NUL character (\\u0000), not text")
            return None
        if required and not text:
            self.fail(name, "is required")
            return None
        if len(text) > max_length:
            self.fail(name, f"must be at most {max_length} characters, got {len(text)}")
            return None
        return text or None

    def day(self, name: str) -> date | None:
        value = self.text(name, max_length=10)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(name, f"must be a date like 2026-11-23, got {value!r}")
            return None

    def integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        # isdecimal and isascii: "²".isdigit() is true, but int("²") raises.
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, got {value!r}")
            return None
        if not minimum <= value <= maximum:
            self.fail(name, f"must be between {minimum} and {maximum}, got {value}")
            return None
        return value


def _is_unicode(text: str) -> bool:
    # JSON lets "\ud800" through as a lone surrogate; no database or reply can hold it.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_id(value: object) -> str | None:
    """An event_id safe to echo back in a report or a reply, whatever was sent."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)[:128]
    return text if _is_unicode(text) else text.encode("utf-8", "replace").decode("utf-8")


def parse_native_event(
    payload: Mapping[str, Any], *, raw: str, default_region: str, now: datetime
) -> Event:
    """Validate one native event; raise EventRejectedError naming every bad field."""
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise EventRejectedError([FieldError("-", "expected a JSON object")])
    fields = _Fields(payload)
    for group in ("next_attempt", "recipient", "sender"):
        value = payload.get(group)
        if value is None or value == "" or type(value) is dict or isinstance(value, Mapping):
            continue
        fields.fail(group, f"must be an object, got {type(value).__name__}")
    event_id = fields.text("event_id", max_length=128, required=True)
    source = fields.text("source", max_length=64) or DEFAULT_SOURCE
    carrier = (fields.text("carrier", max_length=64) or "").lower()
    tracking_number = _tracking_number(fields)
    status, raw_status = _status(fields)
    reason, raw_reason = _reason(fields)
    occurred_at = _occurred_at(fields, now)
    window = fields.text("next_attempt.window", max_length=11)
    if window is not None and not _WINDOW.match(window.replace(" ", "")):
        fields.fail("next_attempt.window", f"must look like 10:00-14:00, got {window!r}")
    locale = fields.text("recipient.locale", max_length=16)
    if locale is not None:
        locale = locale.replace("_", "-").lower()
        if not _LOCALE.match(locale):
            fields.fail("recipient.locale", f"must be a language tag like 'it', got {locale!r}")
    event = Event(
        source=source,
        event_id=event_id or "",
        carrier=carrier,
        tracking_number=tracking_number or "",
        status=status or Status.UNKNOWN,
        raw_status=raw_status or "",
        occurred_at=occurred_at or now,
        reason=reason,
        raw_reason=raw_reason,
        depot=fields.text("depot", max_length=64),
        route_stop=fields.integer("route_stop", minimum=0, maximum=100_000),
        next_attempt_date=fields.day("next_attempt.date"),
        next_attempt_window=window.replace(" ", "") if window else None,
        held_until=fields.day("held_until"),
        pickup_point=fields.text("pickup_point", max_length=64),
        estimated_delivery=fields.day("estimated_delivery"),
        recipient_name=_line(fields.text("recipient.name", max_length=200)),
        recipient_postcode=_line(fields.text("recipient.postcode", max_length=16)),
        recipient_address=_address(fields),
        recipient_locale=locale,
        sender_name=_line(fields.text("sender.name", max_length=200)),
        contacts=_contacts(fields, default_region),
        payload=raw,
    )
    if fields.errors:
        raise EventRejectedError(fields.errors)
    return event


def _line(text: str | None) -> str | None:
    """Names are shown to people: no line breaks, controls or bidi tricks (untrusted.py)."""
    return clean_line(text) or None if text else None


def _address(fields: _Fields) -> str | None:
    value = fields.get("recipient.address")
    if value is None:
        return None
    if type(value) is not dict and not isinstance(value, Mapping):
        kind = type(value).__name__
        fields.fail("recipient.address", f"must be an object with line1, line2, city; got {kind}")
        return None
    lines = (
        _line(fields.text(f"recipient.address.{name}", max_length=most))
        for name, most in ADDRESS_LINES
    )
    # clean_line leaves no line break inside a line: the joins are the only ones.
    return "\n".join(line for line in lines if line) or None


def _tracking_number(fields: _Fields) -> str | None:
    value = fields.text("tracking_number", max_length=80, required=True)
    if value is None:
        return None
    # Printed numbers come grouped ("RP12 3456 789IT"); the carrier's is one token.
    compact = "".join(value.split()).upper()
    if not _TRACKING.match(compact):
        fields.fail("tracking_number", "must be 3 to 64 letters, digits or dashes")
        return None
    return compact


def _status(fields: _Fields) -> tuple[Status | None, str | None]:
    raw = fields.text("status", max_length=128, required=True)
    if raw is None:
        return None, None
    # An unmapped status is stored and counted, never refused (design section 4).
    return STATUS_BY_VALUE.get(raw.upper(), Status.UNKNOWN), raw


def _reason(fields: _Fields) -> tuple[Reason | None, str | None]:
    raw = fields.text("reason", max_length=128)
    if raw is None:
        return None, None
    return REASON_BY_VALUE.get(raw.upper(), Reason.OTHER), raw


def _occurred_at(fields: _Fields, now: datetime) -> datetime | None:
    value = fields.text("occurred_at", max_length=40, required=True)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fields.fail("occurred_at", f"must be an ISO 8601 timestamp, got {value!r}")
        return None
    if moment.tzinfo is None:
        fields.fail("occurred_at", f"needs a UTC offset, like {value}+01:00 or {value}Z")
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:30+01:00 is before year 1 in UTC
        fields.fail("occurred_at", f"is outside the years 1 to 9999 in UTC ({value})")
        return None
    if moment > now + MAX_CLOCK_SKEW:
        fields.fail("occurred_at", f"is more than 24 hours in the future ({value})")
        return None
    return moment


def _contacts(fields: _Fields, default_region: str) -> tuple[ContactPoint, ...]:
    found: list[ContactPoint] = []
    phone = fields.text("recipient.phone", max_length=64)
    if phone is not None:
        found.append(parse_phone(phone, default_region))
    email = fields.text("recipient.email", max_length=320)
    if email is not None:
        found.append(parse_email(email))
    return tuple(found)


def parse_native_events(
    payload: Mapping[str, Any], *, raw: str, default_region: str, now: datetime
) -> list[Event]:
    """One native event as the parser registry's list (aggregator payloads may give more)."""
    return [parse_native_event(payload, raw=raw, default_region=default_region, now=now)]
