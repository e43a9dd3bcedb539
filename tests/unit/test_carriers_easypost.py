"""EasyPost payloads: the published samples, our Italian ones, unknown codes, mistakes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from notifier.carriers.easypost import parse_easypost
from notifier.vocabulary import Reason, Status
from tests.unit.carrier_payloads import changed, own, parse_one, rejected_fields, shared


def test_the_client_libraries_event_is_refused_for_its_one_digit_tracking_code() -> None:
    # event-body.json is EasyPost's webhook-signature fixture; its tracking_code "1" is no
    # tracking number we could match a parcel by (native: 3 to 64 letters or digits).
    payload, _ = shared("easypost_1.json")
    assert list(rejected_fields(parse_easypost, payload)) == ["result.tracking_code"]


def test_the_client_libraries_event_with_a_real_number_is_its_newest_scan() -> None:
    payload, _ = shared("easypost_1.json")
    event = parse_one(parse_easypost, changed(payload, ["result", "tracking_code"], "7751234567"))
    assert (event.status, event.raw_status) == (Status.IN_TRANSIT, "in_transit/arrived_at_facility")
    assert event.occurred_at == datetime(2024, 8, 2, 18, 50, tzinfo=UTC)
    assert event.carrier == "fedex"


def test_the_tracking_guide_event_is_delivered() -> None:
    payload, raw = shared("easypost_2.json")
    event = parse_one(parse_easypost, payload, raw)
    # The guide's last detail is the delivery (dated before the others, as printed):
    # EasyPost's order, which the tracker's own status follows, decides the newest.
    assert (event.status, event.tracking_number) == (Status.DELIVERED, "EZ4000000004")
    assert event.occurred_at == datetime(2014, 11, 19, 10, 51, 54, tzinfo=UTC)
    assert event.estimated_delivery == date(2014, 11, 27)


def test_a_bare_tracker_is_read_too() -> None:
    payload, raw = shared("easypost_3.json")
    event = parse_one(parse_easypost, payload, raw)
    assert (event.status, event.raw_status) == (Status.CREATED, "pre_transit/status_update")
    assert event.tracking_number == "EZ1000000001"
    assert event.occurred_at == datetime(2025, 4, 10, 9, 17, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "status", "reason", "tracking_number", "occurred_at"),
    [
        pytest.param(
            "easypost_out_for_delivery.json", Status.OUT_FOR_DELIVERY, None,
            "RR123456785IT", datetime(2026, 11, 22, 6, 55, tzinfo=UTC), id="out-for-delivery",
        ),
        pytest.param(
            "easypost_available_for_pickup.json", Status.AVAILABLE_FOR_PICKUP, None,
            "RR123456799IT", datetime(2026, 11, 22, 8, 15, tzinfo=UTC), id="pickup",
        ),
        pytest.param(
            "easypost_returning.json", Status.RETURNING, None,
            "RR123456808IT", datetime(2026, 11, 21, 15, 40, tzinfo=UTC), id="return",
        ),
        pytest.param(
            "easypost_weather_delay.json", Status.EXCEPTION, Reason.WEATHER,
            "RR123456811IT", datetime(2026, 11, 21, 19, 10, tzinfo=UTC), id="weather-delay",
        ),
        # EasyPost's documented details name no delivery attempt: a failure, even one
        # whose message says "Tentata consegna", stays an exception (no guessed reason).
        pytest.param(
            "easypost_failure.json", Status.EXCEPTION, None,
            "RR123456825IT", datetime(2026, 11, 22, 9, 49, tzinfo=UTC), id="failure",
        ),
        pytest.param(
            "easypost_unknown_status.json", Status.UNKNOWN, None,
            "RR123456839IT", datetime(2026, 11, 22, 7, 30, tzinfo=UTC), id="unknown-status",
        ),
    ],
)  # fmt: skip
def test_our_payloads(
    name: str, status: Status, reason: Reason | None, tracking_number: str, occurred_at: datetime
) -> None:
    payload, raw = own(name)
    event = parse_one(parse_easypost, payload, raw)
    assert (event.status, event.reason) == (status, reason)
    assert event.tracking_number == tracking_number
    assert event.occurred_at == occurred_at
    assert (event.source, event.carrier) == ("easypost", "posteitaliane")
    assert (event.contacts, event.recipient_locale) == ((), None)  # EasyPost sends none


def test_the_detail_is_read_before_the_status() -> None:
    payload, _ = own("easypost_weather_delay.json")
    event = parse_one(parse_easypost, payload)
    assert event.raw_status == "in_transit/weather_delay"  # in transit, but delayed: ours
    assert event.raw_reason == "weather_delay"


def test_a_replayed_event_has_the_same_id() -> None:
    payload, _ = own("easypost_out_for_delivery.json")
    again = changed(payload, ["id"], "evt_another_delivery")
    assert parse_one(parse_easypost, payload).event_id == parse_one(parse_easypost, again).event_id


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(["result", "tracking_code"], None, "result.tracking_code", id="no-number"),
        pytest.param(
            ["result", "tracking_details", 1, "datetime"], "22/11/2026 07:55",
            "result.tracking_details[1].datetime", id="bad-time",
        ),
        pytest.param(
            ["result", "tracking_details", 1, "datetime"], "2026-11-22T07:55:00",
            "result.tracking_details[1].datetime", id="no-offset",
        ),
        pytest.param(["result"], None, "result", id="no-tracker"),
    ],
)  # fmt: skip
def test_a_malformed_payload_is_refused_naming_the_field(
    path: list[str | int], value: object, field: str
) -> None:
    payload, _ = own("easypost_out_for_delivery.json")
    assert field in rejected_fields(parse_easypost, changed(payload, path, value))
