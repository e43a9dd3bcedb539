"""The SMS sender's pace, kept across workers through the database (issue 16, item 3): a
burst for a 1-a-second sender goes out a second apart, whatever the number of workers;
a booking too far ahead puts the row back instead of holding it; "too fast" holds back."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from notifier.channels.registry import build_channels
from notifier.config import Settings
from notifier.db.engine import write_transaction
from notifier.db.tables import OUTBOX, SEND_PACE
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.outbox import pace
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.sending.pacing import HOLD_BACK, Pacer
from tests.conftest import make_settings
from tests.providers import FakeTwilio

SENDER = "+390212345678"
ENV = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "twilio-auth-token"}
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 11:00 in Rome, clear of quiet hours


def test_workers_booking_at_once_get_one_slot_each_an_interval_apart(engine: Engine) -> None:
    interval = timedelta(milliseconds=500)
    slots: list[datetime] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(15):
            when, booked = pace.book(
                engine, SENDER, now=T0, interval=interval, max_wait=timedelta(hours=1)
            )
            assert booked
            with lock:
                slots.append(when)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(slots) == [T0 + interval * n for n in range(45)]


def test_a_slot_beyond_the_wait_is_not_booked(engine: Engine) -> None:
    second = timedelta(seconds=1)
    for _ in range(5):
        pace.book(engine, SENDER, now=T0, interval=second, max_wait=timedelta(hours=1))
    when, booked = pace.book(engine, SENDER, now=T0, interval=second, max_wait=2 * second)
    assert (when, booked) == (T0 + 5 * second, False)
    # Nothing was taken: the next booking that may wait that long gets that same moment.
    assert pace.book(engine, SENDER, now=T0, interval=second, max_wait=10 * second) == (
        T0 + 5 * second,
        True,
    )


def test_holding_back_only_ever_moves_the_next_moment_later(engine: Engine) -> None:
    pace.hold_back(engine, SENDER, until=T0 + timedelta(seconds=30))
    pace.hold_back(engine, SENDER, until=T0 + timedelta(seconds=10))
    with engine.connect() as connection:
        next_at = connection.execute(select(SEND_PACE.c.next_at)).scalar_one()
    assert next_at == T0 + timedelta(seconds=30)


class FakeTime:
    """The pacer's clock and sleep: a sleep moves the clock, and is written down."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def clock(self) -> datetime:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(round(seconds, 3))
            self.now = max(self.now, self.now + timedelta(seconds=seconds))


def paced_settings(engine: Engine, twilio: FakeTwilio, per_second: float) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    sms = {
        "transport": "twilio",
        "from_number": SENDER,
        "api_base_url": twilio.url,
        "max_per_second": per_second,
    }
    return make_settings(url, env=ENV, channels={"sms": sms})


def store_attempts(engine: Engine, settings: Settings, count: int) -> None:
    events: list[dict[str, Any]] = [
        {
            "event_id": f"attempt-{n}",
            "tracking_number": f"RP{n:09d}IT",
            "status": "DELIVERY_ATTEMPTED",
            "reason": "RECIPIENT_ABSENT",
            "occurred_at": (T0 - timedelta(minutes=5)).isoformat(),
            "recipient": {"name": "Marco Ferrari", "phone": f"+39 347 {n:07d}"},
        }
        for n in range(1, count + 1)
    ]
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    list(ingest(engine, items, settings=settings, now=lambda: T0))


def paced_dispatcher(engine: Engine, settings: Settings, time: FakeTime) -> Dispatcher:
    pacer = Pacer(engine, sender=SENDER, per_second=1.0, clock=time.clock, sleep=time.sleep)
    return Dispatcher(
        engine=engine,
        settings=settings,
        channels=build_channels(settings),
        templates=build_environment(settings),
        worker="w1",
        pacer=pacer,
    )


def test_a_burst_for_a_one_a_second_sender_goes_a_second_apart(
    engine: Engine, fake_twilio: FakeTwilio
) -> None:
    settings = paced_settings(engine, fake_twilio, per_second=1.0)
    store_attempts(engine, settings, 5)
    time = FakeTime(T0)
    dispatcher = paced_dispatcher(engine, settings, time)
    assert dict(dispatcher.run_once(T0).outcomes) == {"sent": 5}
    assert time.slept == [1.0, 1.0, 1.0, 1.0]  # the first went at once
    assert len(fake_twilio.requests) == 5


def test_rows_beyond_the_wait_go_back_to_pending_at_the_pace(
    engine: Engine, fake_twilio: FakeTwilio
) -> None:
    settings = paced_settings(engine, fake_twilio, per_second=1.0)
    store_attempts(engine, settings, 3)
    # Another worker has booked the sender's next minute.
    with write_transaction(engine) as connection:
        connection.execute(
            SEND_PACE.insert().values(sender=SENDER, next_at=T0 + timedelta(seconds=60))
        )
    time = FakeTime(T0)
    dispatcher = paced_dispatcher(engine, settings, time)
    assert dict(dispatcher.run_once(T0).outcomes) == {"paced": 3}
    assert fake_twilio.requests == []
    with engine.connect() as connection:
        query = (
            select(OUTBOX.c.state, OUTBOX.c.due_at, OUTBOX.c.attempts, OUTBOX.c.last_error)
            .where(OUTBOX.c.purpose == "missed_delivery")
            .order_by(OUTBOX.c.due_at)
        )
        rows = [tuple(r) for r in connection.execute(query)]
    first = T0 + timedelta(seconds=60)
    # Put back one interval apart from the sender's next free moment: not all at once.
    assert rows == [("pending", first + timedelta(seconds=n), 0, None) for n in range(3)]


def test_too_fast_from_twilio_holds_the_sender_back_for_every_worker(
    engine: Engine, fake_twilio: FakeTwilio
) -> None:
    settings = paced_settings(engine, fake_twilio, per_second=10.0)
    store_attempts(engine, settings, 1)
    fake_twilio.script((429, 20429))
    time = FakeTime(T0)
    dispatcher = paced_dispatcher(engine, settings, time)
    assert dict(dispatcher.run_once(T0).outcomes) == {"retry": 1}
    with engine.connect() as connection:
        next_at = connection.execute(select(SEND_PACE.c.next_at)).scalar_one()
    assert next_at >= T0 + HOLD_BACK
