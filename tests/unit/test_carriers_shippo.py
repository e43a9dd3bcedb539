"""Shippo payloads: the published samples, our Italian ones, unknown codes, mistakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier.carriers.shippo import parse_shippo
from notifier.vocabulary import Reason, Status
from tests.unit.carrier_payloads import changed, own, parse_one, rejected_fields, shared


@pytest.mark.parametrize("name", ["shippo_1.json", "shippo_2.json"])
def test_the_sdk_samples_are_delivered(name: str) -> None:
    payload, raw = shared(name)
    event = parse_one(parse_shippo, payload, raw)
    # The generated examples pair DELIVERED with the generic "information_received"
    # substatus: a substatus that names no other state leaves the status to speak.
    assert (event.status, event.raw_status) == (Status.DELIVERED, "DELIVERED/information_received")
    assert event.tracking_number == "9205590164917312751089"
    assert event.carrier == "usps"
    assert event.occurred_at == datetime(2016, 7, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "status", "reason", "tracking_number", "occurred_at"),
    [
        pytest.param(
            "shippo_delivery_attempted.json", Status.DELIVERY_ATTEMPTED, None,
            "JJD000390007812345678", datetime(2026, 11, 22, 9, 49, tzinfo=UTC), id="attempted",
        ),
        pytest.param(
            "shippo_location_inaccessible.json", Status.DELIVERY_ATTEMPTED,
            Reason.ADDRESS_INACCESSIBLE, "JJD000390007812345679",
            datetime(2026, 11, 22, 9, 5, tzinfo=UTC), id="attempted-inaccessible",
        ),
        pytest.param(
            "shippo_pickup_available.json", Status.AVAILABLE_FOR_PICKUP, None,
            "JJD000390007812345680", datetime(2026, 11, 22, 8, 30, tzinfo=UTC), id="pickup",
        ),
        pytest.param(
            "shippo_out_for_delivery.json", Status.OUT_FOR_DELIVERY, None,
            "JJD000390007812345681", datetime(2026, 11, 22, 6, 40, tzinfo=UTC),
            id="out-for-delivery",
        ),
        pytest.param(
            "shippo_returned.json", Status.RETURNING, None,
            "JJD000390007812345682", datetime(2026, 11, 21, 14, 0, tzinfo=UTC), id="returned",
        ),
        pytest.param(
            "shippo_delayed.json", Status.EXCEPTION, Reason.DELAYED,
            "JJD000390007812345683", datetime(2026, 11, 21, 20, 15, tzinfo=UTC), id="delayed",
        ),
        pytest.param(
            "shippo_unknown_status.json", Status.UNKNOWN, None,
            "JJD000390007812345684", datetime(2026, 11, 22, 7, 0, tzinfo=UTC), id="unknown",
        ),
    ],
)  # fmt: skip
def test_our_payloads(
    name: str, status: Status, reason: Reason | None, tracking_number: str, occurred_at: datetime
) -> None:
    payload, raw = own(name)
    event = parse_one(parse_shippo, payload, raw)
    assert (event.status, event.reason) == (status, reason)
    assert event.tracking_number == tracking_number
    assert event.occurred_at == occurred_at
    assert (event.source, event.carrier) == ("shippo", "dhl_express")


def test_the_unknown_status_keeps_its_raw_code() -> None:
    event = parse_one(parse_shippo, own("shippo_unknown_status.json")[0])
    assert event.raw_status == "ON_HOLD_SOMEWHERE"


def test_a_status_date_without_offset_is_utc_as_shippo_documents() -> None:
    payload, _ = own("shippo_out_for_delivery.json")
    naive = changed(payload, ["data", "tracking_status", "status_date"], "2026-11-22T06:40:00")
    assert parse_one(parse_shippo, naive).occurred_at == datetime(2026, 11, 22, 6, 40, tzinfo=UTC)


def test_a_bare_track_is_read_too() -> None:
    payload, _ = own("shippo_delayed.json")
    assert parse_one(parse_shippo, payload["data"]).status is Status.EXCEPTION


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(["data", "tracking_number"], None, "data.tracking_number", id="no-number"),
        pytest.param(
            ["data", "tracking_status", "status_date"], "domenica",
            "data.tracking_status.status_date", id="bad-time",
        ),
        pytest.param(
            ["data", "tracking_status"], None, "data.tracking_status", id="no-status",
        ),
    ],
)  # fmt: skip
def test_a_malformed_payload_is_refused_naming_the_field(
    path: list[str | int], value: object, field: str
) -> None:
    payload, _ = own("shippo_delivery_attempted.json")
    assert field in rejected_fields(parse_shippo, changed(payload, path, value))
