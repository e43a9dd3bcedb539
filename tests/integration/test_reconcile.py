"""Reconciliation: SMS sent through the official client to a recorder of Twilio's API, their
callbacks lost, then asked about with the clock moved past the receipt deadline."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from notifier import jobs
from notifier.channels.console import ConsoleChannel
from notifier.channels.registry import build_channels
from notifier.config import Settings
from notifier.db.tables import OUTBOX
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.outbox import store as outbox
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.sending.receipts import apply_receipt
from notifier.sending.reconcile import CheckOutcome, Reconciler, ReconcileStats
from notifier.vocabulary import Channel
from tests.conftest import TEST_SECRET_KEY, EventFactory, make_settings
from tests.providers import FakeTwilio, free_port

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Rome
OVERDUE = NOW + timedelta(minutes=31)  # past the default deadline of 30 minutes
RECHECK = timedelta(hours=12)  # the default re-check interval
ENV = {
    "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "twilio-auth-token-for-tests",
}
WEB = {"public_base_url": "https://notifier.rapido.example"}


class Courier:
    """The service with our Twilio recorder as its SMS provider, and the clock in hand."""

    def __init__(
        self, engine: Engine, twilio: FakeTwilio, make_event: EventFactory, **sms: Any
    ) -> None:
        self.engine, self.twilio, self.make_event = engine, twilio, make_event
        self.settings = self.settings_with(api_base_url=twilio.url, **sms)
        self.printed = io.StringIO()
        channels = build_channels(self.settings)
        channels[Channel.EMAIL] = ConsoleChannel("email", self.printed)
        self.dispatcher = Dispatcher(
            engine=engine,
            settings=self.settings,
            channels=channels,
            templates=build_environment(self.settings),
            worker="sender",
        )
        self.parcels = 0

    def settings_with(self, **sms: Any) -> Settings:
        url = self.engine.url.render_as_string(hide_password=False)
        config = {"transport": "twilio", "from_number": "+390212345678", **sms}
        return make_settings(url, env=ENV, channels={"sms": config}, web=WEB)

    def send_missed_delivery(self, *, at: datetime = NOW, email: str | None = None) -> str:
        """One more parcel's missed-delivery SMS, accepted by Twilio at `at`; its sid."""
        self.parcels += 1
        recipient = {"name": "Giovanni Bianchi", "locale": "it"}
        recipient["phone"] = f"+39 333 000 {self.parcels:04d}"
        if email:
            recipient["email"] = email
        event = self.make_event(
            tracking_number=f"RP{self.parcels:09d}IT",
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at=(at - timedelta(minutes=5)).isoformat(),
            recipient=recipient,
        )
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: at))
        assert self.dispatcher.run_once(at).outcomes == {"sent": 1}
        return FakeTwilio.sid(self.twilio.counter)

    def worker(self, settings: Settings | None = None) -> Reconciler:
        settings = settings or self.settings
        return Reconciler(engine=self.engine, settings=settings, channels=build_channels(settings))

    def row(self, sid: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            (row,) = connection.execute(select(OUTBOX).where(OUTBOX.c.provider_id == sid))
        return dict(row._mapping)

    def state(self, sid: str) -> tuple[str, str | None]:
        row = self.row(sid)
        return row["state"], row["error_code"]


@pytest.fixture
def courier(engine: Engine, fake_twilio: FakeTwilio, make_event: EventFactory) -> Courier:
    return Courier(engine, fake_twilio, make_event)


def test_overdue_sms_are_asked_about_and_what_twilio_says_is_recorded(courier: Courier) -> None:
    delivered = courier.send_missed_delivery()
    landline = courier.send_missed_delivery(email="giovanni@example.it")
    waiting = courier.send_missed_delivery()
    courier.twilio.answer_fetch(delivered, "delivered")
    courier.twilio.answer_fetch(landline, "undelivered", 30006)
    courier.twilio.answer_fetch(waiting, "sent")

    stats = courier.worker().run_once(OVERDUE)

    assert courier.twilio.fetched == [delivered, landline, waiting]
    assert stats.outcomes == {CheckOutcome.RECORDED: 2, CheckOutcome.NOT_FINAL: 1}
    assert courier.state(delivered) == ("delivered", None)
    assert courier.state(landline) == ("undelivered", "30006")
    assert courier.state(waiting) == ("sent", None)
    assert courier.row(waiting)["receipt_checks"] == 1
    # A landline cannot take SMS: the message goes by email, as after a callback.
    assert courier.dispatcher.run_once(OVERDUE).outcomes == {"sent": 1}
    assert "giovanni@example.it" in courier.printed.getvalue()


def test_a_row_whose_callback_came_and_one_inside_the_deadline_are_not_asked_about(
    courier: Courier,
) -> None:
    answered = courier.send_missed_delivery()
    apply_receipt(
        courier.engine,
        provider_id=answered,
        status="delivered",
        error_code=None,
        settings=courier.settings,
        now=NOW + timedelta(minutes=1),
    )
    recent = courier.send_missed_delivery(at=NOW + timedelta(minutes=20))
    courier.twilio.answer_fetch(recent, "delivered")
    worker = courier.worker()

    assert worker.run_once(OVERDUE).asked == 0
    assert courier.twilio.fetched == []
    # Twenty minutes later the recent one is overdue too; the answered one never is.
    worker.run_once(NOW + timedelta(minutes=51))
    assert courier.twilio.fetched == [recent]
    assert courier.state(recent) == ("delivered", None)


def test_two_workers_never_ask_about_the_same_row_in_one_round(courier: Courier) -> None:
    sids = [courier.send_missed_delivery() for _ in range(3)]
    for sid in sids:
        courier.twilio.answer_fetch(sid, "sent")
    config = courier.settings.channels.sms
    # The first worker has taken the oldest row and is still waiting for Twilio...
    (taken,) = outbox.claim_receipt_checks(
        courier.engine,
        now=OVERDUE,
        sent_before=OVERDUE - config.receipt_deadline,
        checked_before=OVERDUE - config.receipt_recheck,
        max_checks=config.receipt_max_checks,
        limit=1,
    )
    assert taken.provider_id == sids[0]
    # ...when the second worker's round starts: it asks about the other two only.
    assert courier.worker().run_once(OVERDUE + timedelta(seconds=1)).asked == 2
    assert courier.twilio.fetched == sids[1:]
    # Later rounds inside the re-check interval, by either, ask about none of them.
    assert courier.worker().run_once(OVERDUE + timedelta(minutes=5)).asked == 0
    assert courier.twilio.fetched == sids[1:]


def test_workers_racing_for_rows_ask_about_each_row_once(courier: Courier) -> None:
    sids = [courier.send_missed_delivery() for _ in range(12)]
    for n, sid in enumerate(sids):
        courier.twilio.answer_fetch(sid, "delivered" if n % 2 else "sent")
    workers = [courier.worker() for _ in range(4)]
    start = threading.Barrier(len(workers))
    results: list[ReconcileStats] = []

    def round_of(worker: Reconciler) -> None:
        start.wait()
        results.append(worker.run_once(OVERDUE))

    threads = [threading.Thread(target=round_of, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == len(workers)
    assert sorted(courier.twilio.fetched) == sorted(sids)  # each once, none twice
    assert sum(stats.asked for stats in results) == len(sids)
    assert [courier.state(sid)[0] for sid in sids] == ["sent", "delivered"] * 6


def test_after_the_last_check_a_row_is_left_sent_and_never_asked_about_again(
    engine: Engine, fake_twilio: FakeTwilio, make_event: EventFactory
) -> None:
    courier = Courier(engine, fake_twilio, make_event, receipt_max_checks=2)
    sid = courier.send_missed_delivery()
    fake_twilio.answer_fetch(sid, "sent")  # a network that never reports delivery
    worker = courier.worker()

    assert worker.run_once(OVERDUE).gave_up == []
    assert worker.run_once(OVERDUE + timedelta(hours=1)).asked == 0  # not again so soon
    last = worker.run_once(OVERDUE + RECHECK)
    assert last.gave_up == [courier.row(sid)["id"]]
    for later in (timedelta(days=2), timedelta(days=30)):
        assert worker.run_once(OVERDUE + later).asked == 0
    assert fake_twilio.fetched == [sid, sid]
    row = courier.row(sid)
    # Still `sent`: the last thing known of it, and no fallback on a guess.
    assert (row["state"], row["receipt_checks"]) == ("sent", 2)
    assert row["receipt_checked_at"] == OVERDUE + RECHECK
    assert [r for r in courier.dispatcher.run_once(OVERDUE + RECHECK).outcomes] == []


def test_a_provider_error_leaves_the_row_for_next_time_and_the_round_goes_on(
    courier: Courier,
) -> None:
    unknown = courier.send_missed_delivery()
    failing = courier.send_missed_delivery()
    fine = courier.send_missed_delivery()
    courier.twilio.fail_fetch(unknown, 404, 20404)
    courier.twilio.fail_fetch(failing, 500, 20500)
    courier.twilio.answer_fetch(fine, "delivered")
    worker = courier.worker()

    stats = worker.run_once(OVERDUE)

    assert courier.twilio.fetched == [unknown, failing, fine]
    assert stats.outcomes == {CheckOutcome.UNANSWERED: 2, CheckOutcome.RECORDED: 1}
    assert stats.unanswered == [
        (courier.row(unknown)["id"], "refused: 20404"),
        (courier.row(failing)["id"], "failed for now: 20500"),
    ]
    assert [courier.state(sid)[0] for sid in (unknown, failing, fine)] == [
        "sent",
        "sent",
        "delivered",
    ]
    # Twilio works again by the next check.
    courier.twilio.answer_fetch(failing, "delivered")
    worker.run_once(OVERDUE + RECHECK)
    assert courier.twilio.fetched[3:] == [unknown, failing]
    assert courier.state(failing) == ("delivered", None)


def test_an_unreachable_twilio_fails_the_checks_not_the_round(courier: Courier) -> None:
    sids = [courier.send_missed_delivery() for _ in range(2)]
    unreachable = courier.settings_with(api_base_url=f"http://127.0.0.1:{free_port()}")

    stats = courier.worker(unreachable).run_once(OVERDUE)

    assert stats.outcomes == {CheckOutcome.UNANSWERED: 2}
    assert all(why.startswith("failed for now: Twilio unreachable") for _, why in stats.unanswered)
    assert [courier.state(sid) for sid in sids] == [("sent", None)] * 2


def test_an_unreachable_handset_is_sent_again_and_its_receipt_awaited_afresh(
    courier: Courier,
) -> None:
    first = courier.send_missed_delivery()
    courier.twilio.answer_fetch(first, "undelivered", 30003)
    worker = courier.worker()

    assert worker.run_once(OVERDUE).outcomes == {CheckOutcome.RESENDING: 1}

    row = courier.row(first)
    assert (row["state"], row["receipt_checks"], row["receipt_checked_at"]) == ("pending", 0, None)
    assert row["due_at"] == OVERDUE + timedelta(hours=4)
    assert courier.dispatcher.run_once(OVERDUE + timedelta(hours=4)).outcomes == {"sent": 1}
    again = FakeTwilio.sid(courier.twilio.counter)
    assert courier.row(again)["id"] == row["id"]
    courier.twilio.answer_fetch(again, "delivered")
    worker.run_once(OVERDUE + timedelta(hours=4, minutes=31))
    assert courier.twilio.fetched == [first, again]
    assert courier.state(again) == ("delivered", None)


def test_with_sms_on_the_console_nobody_is_asked(engine: Engine) -> None:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    reconciler = Reconciler(engine=engine, settings=settings, channels=build_channels(settings))
    assert reconciler.source is None
    assert reconciler.run_once(OVERDUE).asked == 0


class _Stub:
    def __init__(self, stats: ReconcileStats | Exception) -> None:
        self.stats = stats

    def run_once(self, now: datetime) -> ReconcileStats:
        if isinstance(self.stats, Exception):
            raise self.stats
        return self.stats


def test_the_job_logs_row_ids_and_provider_codes_and_survives_a_failed_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = ReconcileStats(
        outcomes=Counter({CheckOutcome.UNANSWERED: 1, CheckOutcome.NOT_FINAL: 1}),
        unanswered=[(7, "refused: 20404")],
        gave_up=[9],
    )
    with caplog.at_level(logging.INFO, logger="notifier.jobs"):
        jobs.reconcile_receipts(_Stub(stats))  # type: ignore[arg-type]
        jobs.reconcile_receipts(_Stub(RuntimeError("database restarting")))  # type: ignore[arg-type]
    messages = [record.getMessage() for record in caplog.records]
    assert "receipts: outbox row 7: the provider did not answer (refused: 20404)" in messages
    assert "receipts: no final status after the last check, left sent: rows 9" in messages
    assert "receipts: not final 1, unanswered 1" in messages
    assert "receipt reconciliation failed" in messages
