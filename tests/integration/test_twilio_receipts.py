"""Twilio's delivery receipts: an SMS sent through the official client to a recorder of
Twilio's API, then status callbacks signed by Twilio's own RequestValidator."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from notifier.channels.console import ConsoleChannel
from notifier.channels.registry import build_channels
from notifier.config import Settings
from notifier.db.engine import make_engine
from notifier.db.tables import OPT_OUTS, OUTBOX
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.urls import twilio_status_url
from notifier.vocabulary import Channel
from notifier.web.app import create_app
from tests.conftest import TEST_SECRET_KEY, EventFactory, make_settings
from tests.providers import FakeTwilio

AUTH_TOKEN = "twilio-auth-token-for-tests"
ENV = {
    "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
}
SMS = {"sms": {"transport": "twilio", "from_number": "+390212345678"}}
WEB = {"public_base_url": "https://notifier.rapido.example"}


class Receipts:
    """The service with Twilio as its SMS channel, and a client posting Twilio's callbacks."""

    def __init__(self, engine: Engine, twilio: FakeTwilio) -> None:
        url = engine.url.render_as_string(hide_password=False)
        self.engine, self.twilio = engine, twilio
        # One clock for the webhooks and the dispatcher, moved by the tests: a Tuesday
        # morning in Rome, clear of the quiet hours (21:00-08:00).
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Rome")).astimezone(UTC)
        # The service's own setting points the official client at the recorder.
        sms = {"sms": {**SMS["sms"], "api_base_url": twilio.url}}
        self.settings: Settings = make_settings(url, env=ENV, channels=sms, web=WEB)
        app = create_app(self.settings, engine=engine, clock=lambda: self.now)
        self.client = TestClient(app)
        self.printed = io.StringIO()
        channels = build_channels(self.settings)
        channels[Channel.EMAIL] = ConsoleChannel("email", self.printed)
        self.dispatcher = Dispatcher(
            engine=engine,
            settings=self.settings,
            channels=channels,
            templates=build_environment(self.settings),
            worker="w1",
        )

    def missed(
        self, make_event: EventFactory, tracking_number: str = "RP123456789IT", **recipient: str
    ) -> None:
        event = make_event(
            tracking_number=tracking_number,
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at=(self.now - timedelta(minutes=5)).isoformat(),
            recipient={"name": "Giovanni Bianchi", "locale": "it", **recipient},
        )
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: self.now))

    def send(self) -> dict[str, int]:
        # The webhook's clock: a fallback it queues is due at once.
        outcomes = self.dispatcher.run_once(self.now).outcomes
        return {str(k): v for k, v in outcomes.items()}

    def callback(self, status: str, *, code: str | None = None, signed: bool = True) -> Any:
        (request,) = self.twilio.requests[-1:]
        sid = f"SM{self.twilio.counter:032x}"
        params = {"MessageSid": sid, "MessageStatus": status, "To": request["To"]}
        if code:
            params["ErrorCode"] = code
        url = request["StatusCallback"]
        signature = RequestValidator(AUTH_TOKEN if signed else "forged").compute_signature(
            url, params
        )
        # The client speaks to the app directly; the path is the one Twilio was given.
        path = url.removeprefix(str(self.settings.web.public_base_url).rstrip("/"))
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            query = select(OUTBOX).order_by(OUTBOX.c.id)
            return [dict(r) for r in connection.execute(query).mappings()]


@pytest.fixture
def receipts(engine: Engine, fake_twilio: FakeTwilio) -> Receipts:
    return Receipts(engine, fake_twilio)


def sms_row(receipts: Receipts) -> dict[str, Any]:
    (row,) = [
        r for r in receipts.rows() if r["channel"] == "sms" and r["purpose"] == "missed_delivery"
    ]
    return row


def test_twilio_is_given_an_opaque_callback_on_our_public_origin(
    receipts: Receipts, make_event: EventFactory
) -> None:
    receipts.missed(make_event, phone="+39 333 123 4567")
    receipts.missed(make_event, tracking_number="RP2IT", phone="+39 333 765 4321")
    assert receipts.send() == {"sent": 2}
    first, second = (r["StatusCallback"] for r in receipts.twilio.requests)
    # One address for every message, which Twilio's MessageSid then names: no row id.
    assert first == second == twilio_status_url(receipts.settings)
    assert first.startswith("https://notifier.rapido.example/webhooks/twilio/status/")
    assert "3331234567" not in first


def test_a_signed_delivered_marks_it_delivered_once_and_never_back(
    receipts: Receipts, make_event: EventFactory
) -> None:
    receipts.missed(make_event, phone="+39 333 123 4567")
    receipts.send()
    assert receipts.callback("delivered").text == "recorded"
    assert sms_row(receipts)["state"] == "delivered"
    assert receipts.callback("delivered").text == "unchanged"  # Twilio's retry
    assert receipts.callback("sent").text == "unchanged"  # out of order: never back
    assert receipts.callback("undelivered", code="30006").text == "unchanged"
    row = sms_row(receipts)
    assert (row["state"], row["error_code"]) == ("delivered", None)
    assert len(receipts.rows()) == 2  # the message and its reminder; no fallback


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(
    receipts: Receipts, make_event: EventFactory
) -> None:
    receipts.missed(make_event, phone="+39 333 123 4567")
    receipts.send()
    assert receipts.callback("delivered", signed=False).status_code == 403
    path = receipts.twilio.requests[0]["StatusCallback"].split(".example", 1)[1]
    params = {"MessageSid": f"SM{1:032x}", "MessageStatus": "delivered"}
    assert receipts.client.post(path, data=params).status_code == 403
    assert receipts.client.post(path[:-4] + "0000", data=params).status_code == 404
    assert sms_row(receipts)["state"] == "sent"


def test_undelivered_to_a_landline_goes_by_email_instead(
    receipts: Receipts, make_event: EventFactory
) -> None:
    receipts.missed(make_event, phone="+39 333 123 4567", email="giovanni@example.it")
    receipts.send()
    assert receipts.callback("undelivered", code="30006").text == "recorded"
    row = sms_row(receipts)
    assert (row["state"], row["error_code"]) == ("undelivered", "30006")
    assert receipts.send() == {"sent": 1}
    (email,) = [r for r in receipts.rows() if r["channel"] == "email"]
    assert (email["purpose"], email["state"], email["recipient"]) == (
        "missed_delivery",
        "sent",
        "giovanni@example.it",
    )
    assert "giovanni@example.it" in receipts.printed.getvalue()
    assert receipts.callback("undelivered", code="30006").text == "unchanged"
    assert len([r for r in receipts.rows() if r["channel"] == "email"]) == 1


def test_an_opt_out_code_is_recorded_and_a_temporary_failure_sends_nothing_else(
    receipts: Receipts, make_event: EventFactory
) -> None:
    receipts.missed(make_event, phone="+39 333 123 4567", email="giovanni@example.it")
    receipts.send()
    receipts.callback("failed", code="21610")
    with receipts.engine.connect() as connection:
        (opt_out,) = connection.execute(select(OPT_OUTS)).mappings()
    assert (opt_out["channel"], opt_out["address"]) == ("sms", "+393331234567")
    assert [r["channel"] for r in receipts.rows()].count("email") == 1


def test_an_unknown_message_is_answered_without_effect(receipts: Receipts) -> None:
    path = twilio_status_url(receipts.settings).split(".example", 1)[1]
    params = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        twilio_status_url(receipts.settings), params
    )
    answer = receipts.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert (answer.status_code, answer.text) == (200, "unknown")


def test_with_the_database_down_the_receipt_is_kept_for_twilios_retry(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'notifier.db'}")
    settings = make_settings(str(engine.url), env=ENV, channels=SMS, web=WEB)
    url = twilio_status_url(settings)
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    try:
        with TestClient(create_app(settings, engine=engine)) as client:
            answer = client.post(
                url.split(".example", 1)[1], data=params, headers={"X-Twilio-Signature": signature}
            )
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0


def test_an_unreachable_handset_gets_the_sms_twice_more_then_the_email(
    receipts: Receipts, make_event: EventFactory
) -> None:
    receipts.missed(make_event, phone="+39 333 123 4567", email="giovanni@example.it")
    assert receipts.send() == {"sent": 1}
    for tries in (1, 2):
        # Twilio 30003: the phone is off or out of coverage, which often passes.
        assert receipts.callback("undelivered", code="30003").text == "resending"
        row = sms_row(receipts)
        assert (row["state"], row["error_code"], row["attempts"]) == ("pending", "30003", tries)
        assert row["due_at"] > receipts.now + timedelta(hours=3, minutes=59)
        assert receipts.send() == {}  # not before its time
        receipts.now += timedelta(hours=4, minutes=1)
        assert receipts.send() == {"sent": 1}
    first, second, third = receipts.twilio.requests
    # 10:00, 14:01 and 18:02 the same day: the same words, the same link.
    assert "oggi alle 09:55" in first["Body"]
    assert first["Body"] == second["Body"] == third["Body"]
    assert first["To"] == second["To"] == third["To"] == "+393331234567"
    assert receipts.callback("undelivered", code="30003").text == "recorded"
    row = sms_row(receipts)
    assert (row["state"], row["error_code"], row["attempts"]) == ("undelivered", "30003", 3)
    assert receipts.send() == {"sent": 1}
    (email,) = [r for r in receipts.rows() if r["channel"] == "email"]
    assert (email["purpose"], email["recipient"]) == ("missed_delivery", "giovanni@example.it")
    assert len(receipts.twilio.requests) == 3


def test_a_resend_the_next_morning_no_longer_says_today(
    receipts: Receipts, make_event: EventFactory
) -> None:
    # The attempt at 19:55, the SMS at 20:00; 30003 sends it again at 00:00, in quiet hours,
    # so it waits for 08:00 on Wednesday: it is rendered then, and says which day it was.
    receipts.now += timedelta(hours=10)
    receipts.missed(make_event, phone="+39 333 123 4567")
    assert receipts.send() == {"sent": 1}
    assert receipts.callback("undelivered", code="30003").text == "resending"
    morning = datetime(2026, 12, 2, 8, 0, tzinfo=ZoneInfo("Europe/Rome")).astimezone(UTC)
    assert sms_row(receipts)["due_at"] == morning
    receipts.now = morning
    assert receipts.send() == {"sent": 1}
    evening, resent = (r["Body"] for r in receipts.twilio.requests)
    assert "oggi alle 19:55" in evening
    assert "oggi" not in resent
    assert "ieri alle 19:55" in resent or "mar 1/12 alle 19:55" in resent
    assert resent.split("https://")[1] == evening.split("https://")[1]  # the same link


def test_a_resend_that_the_parcels_news_made_stale_is_cancelled_not_sent(
    receipts: Receipts, make_event: EventFactory
) -> None:
    receipts.missed(make_event, phone="+39 333 123 4567", email="giovanni@example.it")
    receipts.send()
    assert receipts.callback("undelivered", code="30003").text == "resending"
    receipts.now += timedelta(hours=1)
    delivered = make_event(status="DELIVERED", occurred_at=receipts.now.isoformat())
    items = [Incoming(0, delivered, json.dumps(delivered))]
    list(ingest(receipts.engine, items, settings=receipts.settings, now=lambda: receipts.now))
    receipts.now += timedelta(hours=3, minutes=1)
    assert receipts.send() == {"sent": 1, "cancelled": 1}
    row = sms_row(receipts)
    assert (row["state"], row["last_error"]) == (
        "cancelled",
        "stale: the shipment is now DELIVERED",
    )
    # The "delivered" SMS went; the missed delivery went neither again nor by email.
    missed, news = receipts.twilio.requests
    assert news["Body"] != missed["Body"]
    assert not [
        r for r in receipts.rows() if r["purpose"] == "missed_delivery" and r["channel"] == "email"
    ]
