"""Events that should notify are in the outbox as soon as they are stored, and only once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from notifier.config import Settings
from notifier.db.models import OutboxRow
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming, Outcome
from tests.conftest import EventFactory, make_settings

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 11:00 in Rome


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(engine.url.render_as_string(hide_password=False))


def store(
    engine: Engine, settings: Settings, *payloads: dict[str, Any], now: datetime = NOW
) -> list[Outcome]:
    items = [Incoming(i, p, json.dumps(p)) for i, p in enumerate(payloads)]
    return [r.outcome for r in ingest(engine, items, settings=settings, now=lambda: now)]


def outbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        query = select(OutboxRow).order_by(OutboxRow.id)  # type: ignore[arg-type]
        return [dict(row) for row in connection.execute(query).mappings()]


def at(local: str) -> str:
    return datetime.fromisoformat(local).replace(tzinfo=ROME).isoformat()


def test_a_missed_delivery_is_queued_with_its_reminder_in_the_same_step(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(
        engine,
        settings,
        make_event(
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at=at("2026-11-22T10:49"),
        ),
    )
    message, reminder = outbox_rows(engine)
    assert (message["channel"], message["purpose"], message["template"]) == (
        "sms",
        "missed_delivery",
        "missed_delivery",
    )
    assert message["recipient"] == "+393331234567"
    assert message["locale"] == "it"
    assert message["state"] == "pending"
    assert message["due_at"] == NOW
    assert message["body"] is None  # rendered when sent
    assert reminder["purpose"] == "missed_delivery_reminder"
    assert reminder["due_at"] == NOW + timedelta(hours=24)


def test_the_same_event_again_queues_nothing_more(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    event = make_event(status="DELIVERED", occurred_at=at("2026-11-22T10:49"))
    store(engine, settings, event)
    assert store(engine, settings, event) == [Outcome.DUPLICATE]
    assert len(outbox_rows(engine)) == 1


def test_an_event_at_23_30_is_due_at_8(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)
    store(
        engine,
        settings,
        make_event(status="DELIVERED", occurred_at=at("2026-11-22T23:29")),
        now=late,
    )
    (row,) = outbox_rows(engine)
    assert row["due_at"] == datetime(2026, 11, 23, 8, 0, tzinfo=ROME)


def test_a_landline_is_recorded_as_suppressed_and_email_queued(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    recipient = {"phone": "02 1234 5678", "email": "giovanni@example.it", "locale": "en-GB"}
    store(
        engine,
        settings,
        make_event(status="DELIVERED", occurred_at=at("2026-11-22T10:49"), recipient=recipient),
    )
    suppressed, queued = outbox_rows(engine)
    assert (suppressed["channel"], suppressed["state"]) == ("sms", "suppressed")
    assert "mobile" in suppressed["last_error"]
    assert suppressed["finished_at"] is not None
    assert (queued["channel"], queued["state"], queued["locale"]) == ("email", "pending", "en")


def test_stale_and_unmapped_events_queue_nothing(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(
        engine,
        settings,
        make_event(event_id="d", status="DELIVERED", occurred_at=at("2026-11-22T10:00")),
        make_event(
            event_id="u",
            tracking_number="RP2X",
            status="MYSTERY",
            occurred_at=at("2026-11-22T10:00"),
        ),
        make_event(
            event_id="s",
            tracking_number="RP3X",
            status="DELIVERED",
            occurred_at=at("2026-11-19T10:00"),
        ),
    )
    assert [(r["purpose"], r["recipient"]) for r in outbox_rows(engine)] == [
        ("delivered", "+393331234567")
    ]


def test_an_event_arriving_after_a_newer_one_queues_nothing(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(
        engine,
        settings,
        make_event(event_id="d", status="DELIVERED", occurred_at=at("2026-11-22T10:00")),
    )
    store(
        engine,
        settings,
        make_event(event_id="o", status="OUT_FOR_DELIVERY", occurred_at=at("2026-11-22T08:00")),
    )
    assert [r["purpose"] for r in outbox_rows(engine)] == ["delivered"]
