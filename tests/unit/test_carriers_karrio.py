"""Karrio payloads: the published samples, our Italian ones, unknown codes, mistakes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from notifier.carriers import parser_for
from notifier.carriers.karrio import parse_karrio
from notifier.vocabulary import Reason, Status
from tests.unit.carrier_payloads import changed, own, parse_one, rejected_fields, shared


@pytest.mark.parametrize(
    ("name", "field"),
    [("karrio_1.json", "events[0].date"), ("karrio_2.json", "data.events[0].date")],
)
def test_without_a_zone_local_times_are_refused(name: str, field: str) -> None:
    # Karrio's date and time are the carrier's local clock; guessing a zone would misorder
    # events by hours, so with no zone given they are refused, by name.
    payload, _ = shared(name)
    errors = rejected_fields(parse_karrio, payload)
    assert list(errors) == [field]
    assert "UTC offset" in errors[field]


def test_the_service_reads_local_times_on_the_companys_clock() -> None:
    # What ingest and the webhook use: the courier's carriers keep its time (Europe/Rome).
    payload, _ = shared("karrio_2.json")
    event = parse_one(parser_for("karrio", local_timezone="Europe/Rome"), payload)
    assert event.occurred_at == datetime(2024, 1, 17, 14, 30, tzinfo=UTC)  # 15:30 CET
    assert event.status is Status.DELIVERED


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2026-07-01T09:15", datetime(2026, 7, 1, 7, 15, tzinfo=UTC)),  # summer: +02:00
        # 02:30 happens twice when the clocks go back: the first (still summer time).
        ("2026-10-25T02:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("2026-10-25T03:30", datetime(2026, 10, 25, 2, 30, tzinfo=UTC)),
    ],
)
def test_local_times_across_the_clock_change(local: str, utc: datetime) -> None:
    payload, _ = shared("karrio_2.json")
    day, clock = local.split("T")
    payload = changed(payload, ["data", "events", 0, "date"], day)
    payload = changed(payload, ["data", "events", 0, "time"], clock)
    event = parse_one(parser_for("karrio", local_timezone="Europe/Rome"), payload)
    assert event.occurred_at == utc


@pytest.mark.parametrize(
    ("name", "status", "tracking_number"),
    [("karrio_1.json", Status.DELIVERED, "397538144353"),
     ("karrio_2.json", Status.DELIVERED, "1Z12345E0205271688")],
)  # fmt: skip
def test_the_docs_samples_with_a_timestamp_are_their_newest_event(
    name: str, status: Status, tracking_number: str
) -> None:
    payload, _ = shared(name)
    at = ["data"] if "data" in payload else []
    stamped = changed(payload, [*at, "events", 0, "timestamp"], "2024-01-17T15:30:00-08:00")
    event = parse_one(parse_karrio, stamped)
    assert (event.status, event.tracking_number) == (status, tracking_number)
    assert event.occurred_at == datetime(2024, 1, 17, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "status", "reason", "tracking_number", "occurred_at"),
    [
        pytest.param(
            "karrio_delivery_failed.json", Status.DELIVERY_ATTEMPTED, Reason.RECIPIENT_ABSENT,
            "GLS1122334455", datetime(2026, 11, 22, 9, 49, tzinfo=UTC), id="delivery-failed",
        ),
        pytest.param(
            "karrio_ready_for_pickup.json", Status.AVAILABLE_FOR_PICKUP, None,
            "GLS1122334466", datetime(2026, 11, 22, 8, 12, tzinfo=UTC), id="pickup",
        ),
        pytest.param(
            "karrio_out_for_delivery.json", Status.OUT_FOR_DELIVERY, None,
            "GLS1122334477", datetime(2026, 11, 22, 6, 35, tzinfo=UTC), id="out-for-delivery",
        ),
        pytest.param(
            "karrio_return_to_sender.json", Status.RETURNING, None,
            "GLS1122334488", datetime(2026, 11, 21, 14, 30, tzinfo=UTC), id="return",
        ),
        pytest.param(
            "karrio_delivery_delayed.json", Status.EXCEPTION, Reason.WEATHER,
            "GLS1122334499", datetime(2026, 11, 21, 18, 0, tzinfo=UTC), id="delayed",
        ),
        pytest.param(
            "karrio_unknown_status.json", Status.UNKNOWN, None,
            "GLS1122334500", datetime(2026, 11, 22, 7, 0, tzinfo=UTC), id="unknown",
        ),
    ],
)  # fmt: skip
def test_our_payloads(
    name: str, status: Status, reason: Reason | None, tracking_number: str, occurred_at: datetime
) -> None:
    payload, raw = own(name)
    event = parse_one(parse_karrio, payload, raw)
    assert (event.status, event.reason) == (status, reason)
    assert event.tracking_number == tracking_number
    assert event.occurred_at == occurred_at
    assert (event.source, event.carrier) == ("karrio", "gls")
    assert event.estimated_delivery == date(2026, 11, 23)


def test_the_raw_codes_and_the_customer_name_are_kept() -> None:
    event = parse_one(parse_karrio, own("karrio_delivery_failed.json")[0])
    assert event.raw_status == "delivery_failed/NOT_HOME"
    assert event.raw_reason == "consignee_not_home"
    assert event.recipient_name == "Giovanni Bianchi"
    assert event.event_id == "gls:GLS1122334455:2026-11-22T10:49:00+01:00:delivery_failed/NOT_HOME"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(["data", "tracking_number"], None, "data.tracking_number", id="no-number"),
        pytest.param(
            ["data", "events", 0, "timestamp"], "22-11-2026 10:49",
            "data.events[0].timestamp", id="bad-time",
        ),
        pytest.param(["data", "events"], [], "data.events", id="no-events"),
    ],
)  # fmt: skip
def test_a_malformed_payload_is_refused_naming_the_field(
    path: list[str | int], value: object, field: str
) -> None:
    payload, _ = own("karrio_delivery_failed.json")
    assert field in rejected_fields(parse_karrio, changed(payload, path, value))
