"""What POST /api/v1/events takes and answers, as /openapi.json tells integrators: the native
event (design section 5) as JSON Schema, and the per-event results.

The schema describes the contract, not every check: notifier/carriers/native.py is what
decides, and its reasons come back in `results[].errors`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from notifier.vocabulary import Reason, Status

_DAY = {"type": "string", "format": "date", "examples": ["2026-11-23"]}


def _text(max_length: int, description: str, *examples: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    schema["description"] = description
    if examples:
        schema["examples"] = list(examples)
    return schema


NATIVE_EVENT_SCHEMA: dict[str, Any] = {
    "title": "NativeEvent",
    "type": "object",
    "description": "One tracking event. Unknown keys are ignored (and kept with the raw "
    "payload); `(source, event_id)` is the idempotency key.",
    "required": ["event_id", "tracking_number", "status", "occurred_at"],
    "properties": {
        "event_id": _text(128, "The sender's own id for this event.", "tms-000123-0005"),
        "source": _text(64, "Who sends it (default: `default`).", "tms"),
        "carrier": _text(64, "The carrier, case-insensitive.", "rapido"),
        "tracking_number": _text(
            80,
            "3 to 64 letters, digits or dashes once spaces are removed (printed groups are "
            "accepted), case-insensitive.",
            "RP123456789IT",
        ),
        "status": _text(
            128,
            "One of " + ", ".join(s.value for s in Status) + " (case-insensitive). Any "
            "other value is stored as UNKNOWN and counted in `unknown_statuses`, never refused.",
            "DELIVERY_ATTEMPTED",
        ),
        "reason": _text(
            128,
            "Why a delivery stalled: one of " + ", ".join(r.value for r in Reason) + "; "
            "any other value is stored as OTHER.",
            "RECIPIENT_ABSENT",
        ),
        "occurred_at": _text(
            40,
            "ISO 8601 with a UTC offset; at most 24 hours in the future.",
            "2026-11-22T10:49:00+01:00",
        ),
        "depot": _text(64, "The depot's code.", "MI01"),
        "route_stop": {"type": "integer", "minimum": 0, "maximum": 100_000},
        "next_attempt": {
            "type": "object",
            "properties": {
                "date": _DAY,
                "window": _text(11, "HH:MM-HH:MM, local time.", "10:00-14:00"),
            },
        },
        "held_until": _DAY,
        "pickup_point": _text(64, "Where the parcel waits.", "PP-MI-12"),
        "estimated_delivery": _DAY,
        "recipient": {
            "type": "object",
            "properties": {
                "name": _text(200, "As shown in messages and on the slip.", "Giovanni Bianchi"),
                "phone": _text(
                    64, "E.164, or national in the company's region.", "+39 333 123 4567"
                ),
                "email": _text(254, "An email address.", "giovanni@example.it"),
                "locale": _text(16, "A language tag.", "it"),
                "postcode": _text(16, "The delivery address's postcode.", "20121"),
                "address": {
                    "type": "object",
                    "properties": {
                        "line1": _text(100, "First address line."),
                        "line2": _text(100, "Second address line."),
                        "city": _text(64, "City."),
                    },
                },
            },
        },
        "sender": {
            "type": "object",
            "properties": {"name": _text(200, "Who sent the parcel.", "Libreria Sant'Orsola")},
        },
    },
}

EVENTS_BODY_SCHEMA: dict[str, Any] = {
    "oneOf": [
        NATIVE_EVENT_SCHEMA,
        {"type": "array", "items": NATIVE_EVENT_SCHEMA, "minItems": 1, "maxItems": 1000},
    ]
}


class FieldProblem(BaseModel):
    field: str = Field(description="The field, dotted for nested ones; `-` for the whole item.")
    reason: str


class EventResult(BaseModel):
    index: int = Field(description="The event's position in the request (0 for a lone object).")
    event_id: str | None = Field(description="The event's id as sent, when there was one.")
    result: Literal["stored", "duplicate", "conflict", "rejected"]
    errors: list[FieldProblem] | None = Field(
        default=None, description="Only for a rejected event: every bad field."
    )
    slip_zpl: str | None = Field(
        default=None,
        description="With ?slip=zpl, for each stored missed delivery: its slip as ZPL II, or "
        "null when a later event overtook it or the database failed after storing it.",
    )


class EventsAnswer(BaseModel):
    """Per-event results; 422 when every event was rejected, 200 otherwise."""

    stored: int
    duplicates: int
    conflicts: int
    rejected: int
    unknown_statuses: int
    results: list[EventResult]
