"""Sending at the provider's pace: several sends in flight per worker, and a worker that
wakes the moment a message is queued rather than at its next tick (issue 16, items 1-2)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from notifier.config import Settings
from notifier.db import schema
from notifier.db.engine import make_engine, send_threads
from notifier.db.tables import OUTBOX
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.scheduler import build_dispatcher
from notifier.sender import SendLoop
from notifier.sending.burst import run_burst
from tests.conftest import REPO, make_settings
from tests.integration.conftest import wait_until
from tests.providers import FakeTwilio

ENV = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "twilio-auth-token"}
# Far longer than any test: only a wake-up can make these senders send.
NEVER = 3600.0


def settings_for(engine: Engine, twilio: FakeTwilio, **dispatch: Any) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    sms = {"transport": "twilio", "from_number": "+390212345678", "api_base_url": twilio.url}
    # Quiet hours of one minute, half a day away: whatever the hour the suite runs at,
    # a message is due at once.
    far = datetime.now(UTC) + timedelta(hours=12)
    quiet = {"start": far.strftime("%H:%M"), "end": (far + timedelta(minutes=1)).strftime("%H:%M")}
    return make_settings(url, env=ENV, channels={"sms": sms}, dispatch=dispatch, quiet_hours=quiet)


def missed(number: int, now: datetime) -> dict[str, Any]:
    return {
        "event_id": f"attempt-{number}",
        "tracking_number": f"RP{number:09d}IT",
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": (now - timedelta(minutes=5)).isoformat(),
        "recipient": {"name": "Giulia Russo", "phone": f"+39 333 {number:07d}"},
    }


def store(engine: Engine, settings: Settings, events: list[dict[str, Any]], now: datetime) -> None:
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    list(ingest(engine, items, settings=settings, now=lambda: now))


def states(engine: Engine) -> dict[str, int]:
    """The missed-delivery messages by state (reminders for later are queued beside them)."""
    with engine.connect() as connection:
        query = (
            select(OUTBOX.c.state, func.count())
            .where(OUTBOX.c.purpose == "missed_delivery")
            .group_by(OUTBOX.c.state)
        )
        return {str(state): int(count) for state, count in connection.execute(query)}


def send_gated(
    engine: Engine, fake_twilio: FakeTwilio, *, concurrency: int, messages: int
) -> dict[str, int]:
    """`messages` missed deliveries sent in one batch by a worker with `concurrency` sends
    in flight, through a provider that answers a request only once `concurrency` wait."""
    settings = settings_for(engine, fake_twilio, concurrency=concurrency)
    now = datetime.now(UTC)
    store(engine, settings, [missed(n, now) for n in range(1, messages + 1)], now)
    fake_twilio.gate = threading.Barrier(concurrency, timeout=20)
    dispatcher = build_dispatcher(settings, engine)
    try:
        return dict(dispatcher.run_once(now).outcomes)
    finally:
        dispatcher.close()


def test_one_worker_keeps_several_sends_in_flight(engine: Engine, fake_twilio: FakeTwilio) -> None:
    # The provider answers none until four requests wait at once: one at a time would
    # break the barrier after its timeout, and every send would fail.
    assert send_gated(engine, fake_twilio, concurrency=4, messages=4) == {"sent": 4}
    assert sorted(r["To"] for r in fake_twilio.requests) == [f"+39333{n:07d}" for n in range(1, 5)]
    assert states(engine) == {"sent": 4}


def test_never_more_sends_at_the_provider_than_the_concurrency(
    engine: Engine, fake_twilio: FakeTwilio
) -> None:
    """A worker has more threads than provider slots (one composing or recording leaves
    its slot to the next): the slots, not the threads, bound what is in flight."""
    assert send_threads(3) == 4
    # Every request waits for two more: each round proves three at once, and a fourth
    # thread's request, were it let through, would arrive while they wait.
    assert send_gated(engine, fake_twilio, concurrency=3, messages=30) == {"sent": 30}
    assert fake_twilio.peak_in_flight == 3
    assert len(fake_twilio.requests) == 30
    assert states(engine) == {"sent": 30}


def test_the_next_batch_is_claimed_while_the_last_is_still_sending(
    engine: Engine, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(engine, fake_twilio, concurrency=2, batch_size=2)
    now = datetime.now(UTC)
    store(engine, settings, [missed(n, now) for n in range(1, 7)], now)
    # The provider holds the first batch's two sends until the test lets them go.
    gate = fake_twilio.gate = threading.Barrier(3, timeout=20)
    dispatcher = build_dispatcher(settings, engine)
    outcome: list[dict[str, int]] = []
    burst = threading.Thread(
        target=lambda: outcome.append(dict(run_burst(dispatcher, lambda: now).outcomes))
    )
    burst.start()
    try:
        # Two rows at the provider, two more claimed behind them, two left for later.
        wait_until(
            lambda: gate.n_waiting == 2 and states(engine) == {"sending": 4, "pending": 2},
            what="the second batch claimed while the first is at the provider",
        )
        assert len(fake_twilio.requests) == 0
        fake_twilio.gate = None
        gate.wait()
        burst.join(timeout=30)
    finally:
        dispatcher.close()
    assert outcome == [{"sent": 6}]
    assert states(engine) == {"sent": 6}
    assert len(fake_twilio.requests) == 6


def test_concurrency_comes_from_the_command_line_over_the_config(
    engine: Engine, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(engine, fake_twilio, concurrency=2)
    dispatcher = build_dispatcher(settings, engine, concurrency=8)
    try:
        assert (dispatcher.concurrency, dispatcher.batch_limit) == (8, 50)
    finally:
        dispatcher.close()


@pytest.fixture
def sender(engine: Engine, fake_twilio: FakeTwilio) -> Iterator[SendLoop]:
    settings = settings_for(engine, fake_twilio, interval_seconds=NEVER)
    loop = SendLoop(build_dispatcher(settings, engine), interval_seconds=NEVER)
    loop.start()
    try:
        yield loop
    finally:
        assert loop.stop(timeout=30)


def test_an_event_stored_in_this_process_wakes_its_sender(
    engine: Engine, fake_twilio: FakeTwilio, sender: SendLoop
) -> None:
    settings = sender.dispatcher.settings
    now = datetime.now(UTC)
    store(engine, settings, [missed(7, now)], now)
    wait_until(lambda: len(fake_twilio.requests) == 1, what="the woken sender's SMS")
    wait_until(lambda: states(engine) == {"sent": 1}, what="the send recorded")


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def test_an_event_stored_by_another_process_wakes_the_sender_through_postgres(
    postgres_engine: Engine, fake_twilio: FakeTwilio, tmp_path: Path
) -> None:
    settings = settings_for(postgres_engine, fake_twilio, interval_seconds=NEVER)
    loop = SendLoop(build_dispatcher(settings, postgres_engine), interval_seconds=NEVER)
    loop.start()
    try:
        assert loop.listener is not None
        wait_until(loop.listener.listening.is_set, what="LISTEN in force")
        now = datetime.now(UTC)
        events = tmp_path / "events.jsonl"
        events.write_text(json.dumps(missed(8, now)) + "\n", encoding="utf-8")
        url = postgres_engine.url.render_as_string(hide_password=False)
        env = {"NOTIFIER_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
        # The example config with this test's quiet hours, so the SMS is due at once
        # whatever the hour the suite runs at.
        quiet = settings.quiet_hours
        config = tmp_path / "config.toml"
        example = (REPO / "config.example.toml").read_text(encoding="utf-8")
        config.write_text(
            example.replace(
                '[quiet_hours]\nstart = "21:00"\nend = "08:00"',
                f'[quiet_hours]\nstart = "{quiet.start:%H:%M}"\nend = "{quiet.end:%H:%M}"',
            ),
            encoding="utf-8",
        )
        # Another process: only PostgreSQL's NOTIFY can reach this one's sender.
        done = subprocess.run(
            [sys.executable, "-m", "notifier", "ingest", "--config", str(config), str(events)],
            env={**env, "NOTIFIER_SECRET_KEY": "test-secret-key-not-for-production"},
            capture_output=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()
        wait_until(lambda: len(fake_twilio.requests) == 1, what="the NOTIFY-woken sender's SMS")
    finally:
        assert loop.stop(timeout=30)


def test_stopping_finishes_the_batch_in_flight_and_leaves_nothing_leased(
    engine: Engine, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(engine, fake_twilio, interval_seconds=NEVER, concurrency=3)
    now = datetime.now(UTC)
    store(engine, settings, [missed(n, now) for n in range(20, 23)], now)
    fake_twilio.gate = threading.Barrier(4, timeout=30)  # the test is the fourth party
    loop = SendLoop(build_dispatcher(settings, engine), interval_seconds=NEVER)
    loop.start()
    wait_until(lambda: fake_twilio.gate.n_waiting == 3, what="three sends in flight")
    stopping = threading.Thread(target=loop.stop, kwargs={"timeout": 30})
    stopping.start()
    fake_twilio.gate.wait()  # the provider answers only now, after the stop was asked
    stopping.join(30)
    assert not stopping.is_alive()
    assert states(engine) == {"sent": 3}
    with engine.connect() as connection:
        leased = connection.execute(select(OUTBOX.c.id).where(OUTBOX.c.state == "sending"))
        assert leased.all() == []
