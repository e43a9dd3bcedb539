"""Checked events survive the trip to the storing process unchanged."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime

import pytest

from notifier.ingest.wire import from_wire, to_wire
from notifier.vocabulary import ContactKind, ContactPoint, Event, Reason, Status

FULL = Event(
    source="tms",
    event_id="tms-1",
    carrier="rapido",
    tracking_number="RP000000001IT",
    status=Status.DELIVERY_ATTEMPTED,
    raw_status="delivery_attempted",
    occurred_at=datetime(2026, 11, 30, 9, 15, 0, 123456, tzinfo=UTC),
    reason=Reason.RECIPIENT_ABSENT,
    raw_reason="absent",
    depot="MI01",
    route_stop=17,
    next_attempt_date=date(2026, 12, 1),
    next_attempt_window="10:00-14:00",
    held_until=date(2026, 12, 10),
    pickup_point="PP-MI-01",
    estimated_delivery=date(2026, 11, 30),
    recipient_name="Niccolò D'Angelo",
    recipient_postcode="20121",
    recipient_locale="it",
    sender_name="Pasticceria Già Dolce",
    contacts=(
        ContactPoint(ContactKind.PHONE, "+393331234567", True),
        ContactPoint(ContactKind.EMAIL, "x@", False, "the part after @ is missing"),
    ),
    payload='{"event_id":"tms-1"}',
)
BARE = Event(
    source="default",
    event_id="1",
    carrier="",
    tracking_number="ABC",
    status=Status.UNKNOWN,
    raw_status="HANDED_TO_NEIGHBOUR",
    occurred_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
)


@pytest.mark.parametrize("event", [FULL, BARE], ids=["every-field", "bare"])
def test_an_event_comes_back_equal_after_pickling_its_wire_form(event: Event) -> None:
    wire = pickle.loads(pickle.dumps(to_wire(event)))
    back = from_wire(wire)
    assert back == event
    assert back.status is event.status
    assert back.reason is event.reason
    assert [c.kind for c in back.contacts] == [c.kind for c in event.contacts]


def test_the_wire_form_holds_only_plain_values() -> None:
    def plain(value: object) -> bool:
        if isinstance(value, tuple):
            return all(plain(v) for v in value)
        return type(value) in (str, int, bool, datetime, date, type(None))

    assert plain(to_wire(FULL))
