"""Reminders are sent only while what they repeat is still true (issue 13, item 4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.db.engine import read_transaction
from notifier.db.tables import OUTBOX
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from tests.conftest import REPO, TEST_SECRET_KEY, EventFactory
from tests.integration.test_links import Recording

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Rome


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # The shipped example: its pickup points, hours and wording are what recipients read.
    env = {
        "NOTIFIER_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
    }
    return load_settings(REPO / "config.example.toml", env)


def store(engine: Engine, settings: Settings, now: datetime, *events: dict[str, Any]) -> None:
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    list(ingest(engine, items, settings=settings, now=lambda: now))


def dispatch(engine: Engine, settings: Settings, now: datetime) -> tuple[Recording, dict[str, int]]:
    sms = Recording("sms")
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels={"sms": sms, "email": Recording("email")},
        templates=build_environment(settings),
        worker="w1",
    )
    return sms, dict(dispatcher.run_once(now).outcomes)


def waiting(make_event: EventFactory, *, at: str, point: str, until: str) -> dict[str, Any]:
    return make_event(
        status="AVAILABLE_FOR_PICKUP", occurred_at=at, pickup_point=point, held_until=until
    )


def reminders(engine: Engine) -> list[tuple[str, str | None]]:
    query = (
        select(OUTBOX.c.state, OUTBOX.c.last_error)
        .where(OUTBOX.c.purpose == "ready_for_pickup_reminder")
        .order_by(OUTBOX.c.id)
    )
    with read_transaction(engine) as connection:
        return [(row.state, row.last_error) for row in connection.execute(query)]


def test_a_pickup_reminder_names_the_place_and_the_deadline(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    until = "2026-11-30"
    store(
        engine,
        settings,
        MONDAY,
        waiting(make_event, at="2026-11-23T09:30:00+01:00", point="PP-MI-12", until=until),
    )
    dispatch(engine, settings, MONDAY)  # "your parcel is waiting"
    # Two days before the deadline, at 10:00 Rome time.
    sms, outcomes = dispatch(engine, settings, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    assert outcomes == {"sent": 1}
    (message,) = sms.sent
    assert "promemoria" in message.body
    assert "Edicola Centrale" in message.body
    assert "lun 30/11" in message.body
    assert "tornerà al mittente" in message.body
    assert "Orari: lun-ven 07:00-19:30, sab 07:00-13:00" in message.body


def test_a_point_the_configuration_does_not_know_is_not_replaced_by_the_depot(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    event = waiting(
        make_event, at="2026-11-23T09:30:00+01:00", point="PP-XX-99", until="2026-11-30"
    )
    store(engine, settings, MONDAY, event)
    dispatch(engine, settings, MONDAY)
    sms, _ = dispatch(engine, settings, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    (message,) = sms.sent
    assert "Deposito" not in message.body
    assert "presso" not in message.body
    assert "fino a lun 30/11" in message.body


def test_a_reminder_made_untrue_by_a_newer_event_is_not_sent(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(
        engine,
        settings,
        MONDAY,
        waiting(make_event, at="2026-11-23T09:30:00+01:00", point="PP-MI-12", until="2026-11-30"),
    )
    dispatch(engine, settings, MONDAY)
    # Moved to the locker, with a new deadline: the old reminder would name the old ones.
    tuesday = MONDAY + timedelta(days=1)
    store(
        engine,
        settings,
        tuesday,
        waiting(make_event, at="2026-11-24T09:30:00+01:00", point="LK-MI-03", until="2026-12-04"),
    )
    dispatch(engine, settings, tuesday)  # "your parcel is waiting at the locker"
    _, outcomes = dispatch(engine, settings, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    assert outcomes == {"cancelled": 1}
    sms, outcomes = dispatch(engine, settings, datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    assert outcomes == {"sent": 1}
    (message,) = sms.sent
    assert "Locker Stazione Garibaldi" in message.body
    assert "ven 4/12" in message.body
    assert reminders(engine) == [
        ("cancelled", "stale: a newer AVAILABLE_FOR_PICKUP event has replaced it"),
        ("sent", None),
    ]


def test_a_pickup_reminder_is_not_sent_once_the_parcel_is_collected(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(
        engine,
        settings,
        MONDAY,
        waiting(make_event, at="2026-11-23T09:30:00+01:00", point="PP-MI-12", until="2026-11-30"),
    )
    dispatch(engine, settings, MONDAY)
    collected = make_event(status="DELIVERED", occurred_at="2026-11-25T17:00:00+01:00")
    store(engine, settings, MONDAY + timedelta(days=2), collected)
    dispatch(engine, settings, MONDAY + timedelta(days=2))
    _, outcomes = dispatch(engine, settings, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    assert outcomes == {"cancelled": 1}
    assert reminders(engine) == [("cancelled", "stale: a newer DELIVERED event has replaced it")]
