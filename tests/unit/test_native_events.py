"""The native event format: what is accepted, how it is normalised, how each mistake is named."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from notifier.carriers.native import DEFAULT_SOURCE, parse_native_event
from notifier.errors import EventRejectedError
from notifier.ingest.files import unflatten
from notifier.vocabulary import ContactKind, Reason, Status
from tests.conftest import DESIGN_EVENT, NOW, EventFactory


def parse(payload: dict[str, Any]) -> Any:
    return parse_native_event(payload, raw=json.dumps(payload), default_region="IT", now=NOW)


def rejected_fields(payload: Any) -> dict[str, str]:
    with pytest.raises(EventRejectedError) as caught:
        parse_native_event(payload, raw="", default_region="IT", now=NOW)
    return {e.field: e.reason for e in caught.value.errors}


def test_the_design_example_is_parsed_whole() -> None:
    payload = copy.deepcopy(DESIGN_EVENT)
    event = parse(payload)
    assert event.status is Status.DELIVERY_ATTEMPTED
    assert event.reason is Reason.RECIPIENT_ABSENT
    assert event.occurred_at == datetime(2026, 11, 22, 9, 49, tzinfo=UTC)
    assert event.route_stop == 17
    assert event.next_attempt_date == date(2026, 11, 23)
    assert event.next_attempt_window == "10:00-14:00"
    assert event.held_until == date(2026, 12, 2)
    assert event.recipient_name == "Giovanni Bianchi"
    assert event.sender_name == "Libreria Sant'Orsola"
    phone, email = event.contacts
    assert (phone.kind, phone.value, phone.valid) == (ContactKind.PHONE, "+393331234567", True)
    assert (email.kind, email.value, email.valid) == (
        ContactKind.EMAIL,
        "giovanni@example.it",
        True,
    )
    assert json.loads(event.payload) == payload


def test_only_four_fields_are_required() -> None:
    event = parse(
        {
            "event_id": 42,
            "tracking_number": "rp 1234 5678 9it",
            "status": "in_transit",
            "occurred_at": "2026-11-22T09:00:00Z",
        }
    )
    assert event.source == DEFAULT_SOURCE
    assert event.event_id == "42"
    assert event.carrier == ""
    assert event.tracking_number == "RP123456789IT"  # grouped as printed, one token stored
    assert event.status is Status.IN_TRANSIT
    assert event.raw_status == "in_transit"
    assert event.contacts == ()


def test_an_unmapped_status_is_kept_as_unknown_with_its_raw_code() -> None:
    event = parse(
        {
            "event_id": "1",
            "tracking_number": "RP1",
            "status": "LOST_IN_SPACE",
            "occurred_at": "2026-11-22T09:00:00Z",
            "reason": "ALIENS",
        }
    )
    assert event.status is Status.UNKNOWN
    assert event.raw_status == "LOST_IN_SPACE"
    assert event.reason is Reason.OTHER
    assert event.raw_reason == "ALIENS"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"event_id": None}, "event_id", "required"),
        ({"event_id": ""}, "event_id", "required"),
        ({"event_id": "x" * 129}, "event_id", "at most 128"),
        ({"event_id": ["a"]}, "event_id", "must be a string"),
        ({"tracking_number": None}, "tracking_number", "required"),
        ({"tracking_number": "RP/123"}, "tracking_number", "letters, digits"),
        ({"status": None}, "status", "required"),
        ({"status": True}, "status", "must be a string"),
        ({"occurred_at": None}, "occurred_at", "required"),
        ({"occurred_at": "2026-11-22 10:49"}, "occurred_at", "UTC offset"),
        ({"occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"occurred_at": "2026-11-25T10:00:00+01:00"}, "occurred_at", "future"),
        ({"route_stop": "seventeen"}, "route_stop", "whole number"),
        ({"route_stop": -1}, "route_stop", "between"),
        ({"next_attempt": {"date": "23/11/2026"}}, "next_attempt.date", "2026-11-23"),
        ({"next_attempt": {"window": "morning"}}, "next_attempt.window", "10:00-14:00"),
        ({"next_attempt": "tomorrow"}, "next_attempt", "must be an object"),
        ({"held_until": "soon"}, "held_until", "date"),
        ({"recipient": {"locale": "it_IT!"}}, "recipient.locale", "language tag"),
        ({"recipient": {"name": "x" * 201}}, "recipient.name", "at most 200"),
        ({"sender": 7}, "sender", "must be an object"),
        ({"event_id": "\ud800"}, "event_id", "unpaired surrogate"),
    ],
    ids=lambda v: None,
)
def test_each_bad_field_is_named_with_the_reason(
    make_event: EventFactory, changes: dict[str, Any], field: str, words: str
) -> None:
    payload = make_event()
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    errors = rejected_fields(payload)
    assert field in errors, errors
    assert words in errors[field]


def test_every_bad_field_is_reported_at_once(make_event: EventFactory) -> None:
    payload = make_event(event_id="", status=None, occurred_at="soon", route_stop="x")
    assert set(rejected_fields(payload)) == {"event_id", "status", "occurred_at", "route_stop"}


@pytest.mark.parametrize("payload", [[], "event", 7, None])
def test_a_payload_that_is_not_an_object_is_refused(payload: Any) -> None:
    assert rejected_fields(payload) == {"-": "expected a JSON object"}


@pytest.mark.parametrize(
    ("phone", "valid", "value_or_reason"),
    [
        ("+39 333 123 4567", True, "+393331234567"),
        ("333 123 4567", True, "+393331234567"),  # default region IT
        ("0039 333 1234567", True, "+393331234567"),
        ("+44 7911 123456", True, "+447911123456"),
        ("02 1234 5678", False, "not a mobile number"),  # Milan landline: no SMS
        ("12", False, "not a valid number"),
        ("call me", False, "not a phone number"),
    ],
)
def test_phone_numbers_become_e164_or_are_kept_as_invalid(
    make_event: EventFactory, phone: str, valid: bool, value_or_reason: str
) -> None:
    event = parse(make_event(recipient={"phone": phone}))
    (contact,) = event.contacts
    assert contact.valid is valid
    if valid:
        assert contact.value == value_or_reason
    else:
        assert contact.value == phone
        assert contact.invalid_reason is not None
        assert value_or_reason in contact.invalid_reason


@pytest.mark.parametrize(
    ("email", "valid"),
    [("Giovanni@Example.IT", True), ("giovanni@", False), ("no spaces@example.it", False)],
)
def test_email_addresses_are_checked(make_event: EventFactory, email: str, valid: bool) -> None:
    (contact,) = parse(make_event(recipient={"email": email})).contacts
    assert contact.valid is valid
    assert contact.invalid_reason is None if valid else contact.invalid_reason


ADDRESS = {"line1": "Via Solferino 12", "line2": "Scala B, int. 4", "city": "Milano"}


def test_an_address_is_its_lines_in_order_from_an_object_or_csv_columns(
    make_event: EventFactory,
) -> None:
    recipient = {"name": "Giovanni Bianchi", "postcode": "20121", "address": ADDRESS}
    event = parse(make_event(recipient=recipient))
    assert event.recipient_address == "Via Solferino 12\nScala B, int. 4\nMilano"
    assert event.recipient_postcode == "20121"
    flat = {
        "event_id": "e-1",
        "tracking_number": "RP123456789IT",
        "status": "DELIVERY_ATTEMPTED",
        "occurred_at": "2026-11-22T10:49:00+01:00",
        "recipient.address.line1": "Via Solferino 12",
        "recipient.address.line2": "",
        "recipient.address.city": " Milano ",
    }
    assert parse(unflatten(flat)).recipient_address == "Via Solferino 12\nMilano"


@pytest.mark.parametrize(
    ("address", "stored"),
    [
        ({"city": "Milano"}, "Milano"),
        ({"line1": "Via Solferino", "line2": 12}, "Via Solferino\n12"),  # a number is text
        ({}, None),
        ({"line1": "", "city": "  "}, None),
        ("", None),  # a CSV's empty column
    ],
    ids=["city only", "a number", "empty object", "blank lines", "empty"],
)
def test_an_address_keeps_the_lines_given(
    make_event: EventFactory, address: Any, stored: str | None
) -> None:
    assert parse(make_event(recipient={"address": address})).recipient_address == stored
    assert parse(make_event()).recipient_address is None


def test_an_address_line_is_one_clean_line(make_event: EventFactory) -> None:
    address = {
        "line1": "Via Solferino\n12\t\u200b",  # a line break, a tab, a zero-width space
        "line2": "\u202eint. 4\u202c \x07",  # a right-to-left override, a bell
        "city": "Milano\r\nMI",
    }
    event = parse(make_event(recipient={"address": address}))
    assert event.recipient_address == "Via Solferino 12\nint. 4\nMilano MI"


@pytest.mark.parametrize(
    ("address", "field", "words"),
    [
        ("Via Solferino 12, Milano", "recipient.address", "must be an object"),
        (["Via Solferino 12"], "recipient.address", "got list"),
        (7, "recipient.address", "got int"),
        ({"line1": ["Via Solferino 12"]}, "recipient.address.line1", "must be a string, got list"),
        ({"line2": {"door": 4}}, "recipient.address.line2", "must be a string, got dict"),
        ({"city": True}, "recipient.address.city", "must be a string, got bool"),
        ({"line1": "x" * 101}, "recipient.address.line1", "at most 100"),
        ({"city": "x" * 65}, "recipient.address.city", "at most 64"),
        ({"line1": "Via\x00Roma"}, "recipient.address.line1", "NUL"),
    ],
    ids=lambda v: None,
)
def test_a_bad_address_is_refused_naming_the_field(
    make_event: EventFactory, address: Any, field: str, words: str
) -> None:
    errors = rejected_fields(make_event(recipient={"name": "Giovanni", "address": address}))
    assert set(errors) == {field}, errors
    assert words in errors[field]
