"""AfterShip payloads: the published samples, our Italian ones, unknown codes, mistakes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from notifier.carriers.aftership import parse_aftership
from notifier.vocabulary import ContactKind, Reason, Status
from tests.unit.carrier_payloads import changed, own, parse_one, rejected_fields, shared


def test_the_sdk_sample_tracking_takes_its_one_checkpoint_with_its_offset() -> None:
    payload, raw = shared("aftership_1.json")
    event = parse_one(parse_aftership, payload, raw)
    # The mock's tracking says Delivered, but its only checkpoint is the label: the
    # checkpoint is what happened, at its time.
    assert (event.status, event.raw_status) == (Status.CREATED, "InfoReceived_001")
    assert event.tracking_number == "1234567890"
    assert event.carrier == "ups"
    assert event.occurred_at == datetime(2018, 7, 31, 14, 33, tzinfo=UTC)
    assert event.estimated_delivery == date(2022, 7, 6)
    assert event.payload == raw


def test_the_docs_webhook_sample_is_refused_for_its_time_without_offset() -> None:
    # Hookdeck's trimmed copy keeps checkpoint_time (carrier-local, no offset) and drops
    # the checkpoint's created_at: no moment we could order by.
    payload, _ = shared("aftership_2.json")
    errors = rejected_fields(parse_aftership, payload)
    assert list(errors) == ["msg.checkpoints[0].checkpoint_time"]
    assert "UTC offset" in errors["msg.checkpoints[0].checkpoint_time"]


@pytest.mark.parametrize(
    ("name", "status", "reason", "tracking_number", "occurred_at"),
    [
        pytest.param(
            "aftership_attempt_fail.json", Status.DELIVERY_ATTEMPTED, Reason.RECIPIENT_ABSENT,
            "BRT0601234567", datetime(2026, 11, 22, 9, 49, tzinfo=UTC), id="attempt-fail",
        ),
        pytest.param(
            "aftership_available_for_pickup.json", Status.AVAILABLE_FOR_PICKUP, None,
            "3UW1A2B3C4D5E", datetime(2026, 11, 22, 8, 30, tzinfo=UTC), id="pickup",
        ),
        pytest.param(
            "aftership_out_for_delivery.json", Status.OUT_FOR_DELIVERY, None,
            "GLS1234567890", datetime(2026, 11, 22, 6, 41, tzinfo=UTC), id="out-for-delivery",
        ),
        pytest.param(
            "aftership_returning.json", Status.RETURNING, None,
            "SDA9988776655", datetime(2026, 11, 21, 15, 5, tzinfo=UTC), id="return-subtag",
        ),
        pytest.param(
            "aftership_delayed.json", Status.EXCEPTION, Reason.DELAYED,
            "BRT0601234999", datetime(2026, 11, 21, 17, 20, tzinfo=UTC), id="delayed",
        ),
        pytest.param(
            "aftership_unknown_tag.json", Status.UNKNOWN, None,
            "BRT0601230000", datetime(2026, 11, 22, 7, 0, tzinfo=UTC), id="unknown-tag",
        ),
    ],
)  # fmt: skip
def test_our_payloads(
    name: str, status: Status, reason: Reason | None, tracking_number: str, occurred_at: datetime
) -> None:
    payload, raw = own(name)
    event = parse_one(parse_aftership, payload, raw)
    assert (event.status, event.reason) == (status, reason)
    assert event.tracking_number == tracking_number
    assert event.occurred_at == occurred_at
    assert event.source == "aftership"
    assert event.raw_status == payload["msg"]["checkpoints"][-1]["subtag"]


def test_the_newest_checkpoint_is_the_event_and_its_id_survives_a_new_delivery_id() -> None:
    payload, _ = own("aftership_attempt_fail.json")
    first = parse_one(parse_aftership, payload)
    resent = parse_one(parse_aftership, changed(payload, ["event_id"], "another-delivery"))
    assert first.event_id == resent.event_id  # a replay, or a re-sent webhook: a duplicate
    assert first.event_id == "brt:BRT0601234567:2026-11-22T10:49:00+01:00:AttemptFail_001"
    assert first.raw_reason == "AttemptFail_001"


def test_the_recipient_comes_from_customers_with_an_italian_mobile_and_locale() -> None:
    payload, _ = own("aftership_attempt_fail.json")
    event = parse_one(parse_aftership, payload)
    assert event.recipient_name == "Giovanni Bianchi"
    assert event.recipient_locale == "it"
    phones = [c for c in event.contacts if c.kind is ContactKind.PHONE]
    assert [(p.value, p.valid) for p in phones] == [("+393331234567", True)]


def test_older_trackings_give_smses_emails_and_language() -> None:
    payload, _ = own("aftership_available_for_pickup.json")
    event = parse_one(parse_aftership, payload)
    assert {c.value for c in event.contacts} == {"+393477654321", "chiara.rossi@example.it"}
    assert (event.recipient_name, event.recipient_locale) == ("Chiara Rossi", "it")
    assert event.pickup_point == "UP Bologna Centro"


def test_most_trackings_carry_no_recipient() -> None:
    event = parse_one(parse_aftership, own("aftership_delayed.json")[0])
    assert (event.contacts, event.recipient_locale, event.recipient_name) == ((), None, None)


def test_a_checkpoint_time_without_offset_falls_back_on_when_aftership_recorded_it() -> None:
    payload, _ = own("aftership_returning.json")
    local = changed(payload, ["msg", "checkpoints", 0, "checkpoint_time"], "2026-11-21T16:05:00")
    event = parse_one(parse_aftership, local)
    assert event.occurred_at == datetime(2026, 11, 21, 15, 11, 45, tzinfo=UTC)


def test_a_tracking_without_checkpoints_reports_its_own_tag() -> None:
    payload, _ = own("aftership_delayed.json")
    pending = changed(payload, ["msg", "checkpoints"], [])
    pending["msg"].update(tag="Pending", subtag="Pending_001", updated_at="2026-11-22T07:00:00Z")
    event = parse_one(parse_aftership, pending)
    assert (event.status, event.raw_status) == (Status.UNKNOWN, "Pending_001")
    assert event.occurred_at == datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(["msg", "tracking_number"], None, "msg.tracking_number", id="no-number"),
        pytest.param(
            ["msg", "checkpoints", 1, "checkpoint_time"], "ieri mattina",
            "msg.checkpoints[1].checkpoint_time", id="bad-time",
        ),
        pytest.param(["msg", "checkpoints"], {"0": {}}, "msg.checkpoints", id="not-a-list"),
        pytest.param(["msg"], "BRT0601234567", "msg", id="msg-not-an-object"),
    ],
)  # fmt: skip
def test_a_malformed_payload_is_refused_naming_the_field(
    path: list[str | int], value: object, field: str
) -> None:
    payload, _ = own("aftership_attempt_fail.json")
    broken = changed(payload, path, value)
    if field.endswith("checkpoint_time"):  # no fallback on created_at for this one
        del broken["msg"]["checkpoints"][1]["created_at"]
    assert field in rejected_fields(parse_aftership, broken)


def test_not_an_object_is_refused() -> None:
    assert rejected_fields(parse_aftership, json.loads("[1, 2]")) == {
        "-": "must be an object, got list"
    }
