"""Replies by SMS: events ingested and sent by a worker, then the recipient's texts posted
as Twilio posts them, signed by Twilio's own RequestValidator, answered in TwiML."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from notifier import cli
from notifier.channels.console import ConsoleChannel
from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.db.engine import make_engine
from notifier.db.tables import INBOUND, OPT_OUTS, OUTBOX, REBOOKINGS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.locales import day_short
from notifier.rebooking.links import live_links
from notifier.rendering.environment import build_environment
from notifier.replies.limits import REPLY_LIMITS
from notifier.sending.dispatch import Dispatcher
from notifier.urls import twilio_inbound_url, twilio_status_url
from notifier.vocabulary import Channel
from notifier.web.app import create_app
from tests.conftest import TEST_SECRET_KEY, EventFactory, make_settings

AUTH_TOKEN = "twilio-auth-token-for-tests"
ENV = {"NOTIFIER_SECRET_KEY": TEST_SECRET_KEY, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
WEB = {"public_base_url": "https://notifier.rapido.example"}
GIOVANNI, MARIA, STRANGER = "+393331234567", "+393337654321", "+393330000000"
REPO = Path(__file__).resolve().parents[2]
ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Inbox:
    """The service, a worker with console transports, and Twilio posting what people text."""

    def __init__(self, engine: Engine, **sections: Any) -> None:
        self.engine = engine
        # Web handlers read the wall clock: nothing here may depend on what time it is.
        # No quiet hours; choices close at a time of day half a day away.
        far = datetime.now(ZoneInfo("Europe/Rome")) + timedelta(hours=12)
        rebooking = {
            "sms_reply_menu": True,
            "working_days": ALL_WEEK,
            "change_until": far.strftime("%H:00"),
            **sections.pop("rebooking", {}),
        }
        url = engine.url.render_as_string(hide_password=False)
        self.settings: Settings = make_settings(
            url,
            env=ENV,
            web=WEB,
            quiet_hours={"start": "00:00", "end": "00:00"},
            rebooking=rebooking,
            **sections,
        )
        self.client = TestClient(create_app(self.settings, engine=engine))
        self.printed = io.StringIO()
        channels = {
            Channel.SMS: ConsoleChannel("sms", self.printed),
            Channel.EMAIL: ConsoleChannel("email", self.printed),
        }
        self.dispatcher = Dispatcher(
            engine=engine,
            settings=self.settings,
            channels=channels,
            templates=build_environment(self.settings),
            worker="w1",
        )
        self.sids = count(1)

    def event(
        self,
        make_event: EventFactory,
        *,
        status: str = "DELIVERY_ATTEMPTED",
        tracking_number: str = "RP123456789IT",
        at: datetime | None = None,
        phone: str = GIOVANNI,
        locale: str = "it",
        **changes: Any,
    ) -> None:
        now = datetime.now(UTC)
        occurred = at or now - timedelta(minutes=5)
        event = make_event(
            tracking_number=tracking_number,
            status=status,
            reason="RECIPIENT_ABSENT" if status == "DELIVERY_ATTEMPTED" else None,
            occurred_at=occurred.isoformat(),
            recipient={
                "name": "Giovanni Bianchi",
                "phone": phone,
                "email": f"r{phone[-4:]}@example.it",
                "locale": locale,
            },
            **changes,
        )
        items = [Incoming(0, event, json.dumps(event))]
        ingested = now if at is None else occurred + timedelta(minutes=1)
        list(ingest(self.engine, items, settings=self.settings, now=lambda: ingested))

    def send(self, at: datetime | None = None) -> None:
        while self.dispatcher.run_once(at or datetime.now(UTC)).claimed:
            pass

    def text(
        self,
        body: str,
        *,
        sender: str = GIOVANNI,
        sid: str | None = None,
        signed: bool = True,
        **extra: str,
    ) -> Any:
        params = {
            "MessageSid": sid or f"SM{next(self.sids):032x}",
            "AccountSid": "AC" + "1" * 32,
            "From": sender,
            "To": "+390212345678",
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        url = twilio_inbound_url(self.settings)
        token = AUTH_TOKEN if signed else "forged"
        signature = RequestValidator(token).compute_signature(url, params)
        path = url.removeprefix(str(self.settings.web.public_base_url).rstrip("/"))
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def answer(self, body: str, **kwargs: Any) -> str | None:
        """The text of the TwiML answer's message, None for an empty <Response/>."""
        response = self.text(body, **kwargs)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(response.text)
        assert root.tag == "Response"
        messages = root.findall("Message")
        assert len(messages) <= 1
        return messages[0].text if messages else None

    def rows(self, table: Any = OUTBOX) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            query = select(table).order_by(table.c.id)
            return [dict(r) for r in connection.execute(query).mappings()]

    def sent(self, purpose: str, recipient: str = GIOVANNI) -> list[dict[str, Any]]:
        return [
            r
            for r in self.rows()
            if r["purpose"] == purpose and r["recipient"] == recipient and r["state"] == "sent"
        ]

    def link_url(self, nth: int = 0) -> str:
        """The live link of the nth shipment (in the order they were first seen)."""
        with self.engine.connect() as connection:
            links = live_links(
                connection,
                [r["shipment_id"] for r in self.rows()],
                key=self.settings.link_key,
                settings=self.settings,
                now=datetime.now(UTC),
            )
        return sorted(links.values(), key=lambda link: link.shipment_id)[nth].url


@pytest.fixture
def inbox(engine: Engine) -> Inbox:
    return Inbox(engine)


def test_stop_ends_texts_not_email_and_start_resumes_them(
    inbox: Inbox, make_event: EventFactory
) -> None:
    inbox.event(make_event)
    inbox.send()
    assert inbox.sent("missed_delivery")
    confirmed = inbox.answer("Stop")
    assert confirmed is not None
    assert "non le invieremo più SMS" in confirmed
    assert "INIZIA" in confirmed
    assert [(r["channel"], r["address"]) for r in inbox.rows(OPT_OUTS)] == [("sms", GIOVANNI)]

    inbox.event(make_event, status="AVAILABLE_FOR_PICKUP", held_until="2099-01-01")
    inbox.send()
    ready = [r for r in inbox.rows() if r["purpose"] == "ready_for_pickup"]
    assert {(r["channel"], r["state"]) for r in ready} == {
        ("sms", "suppressed"),
        ("email", "sent"),
    }
    assert inbox.sent("ready_for_pickup", "r4567@example.it")

    resumed = inbox.answer("START")
    assert resumed is not None
    assert "di nuovo attivi" in resumed
    assert inbox.rows(OPT_OUTS) == []
    inbox.event(make_event, status="DELIVERED")
    inbox.send()
    assert inbox.sent("delivered")  # by SMS again


def test_a_text_still_queued_at_stop_goes_by_email_instead(
    inbox: Inbox, make_event: EventFactory
) -> None:
    """STOP arrives between the event and its SMS: the SMS is held back and its news goes
    by the rule's next channel, as after a refusal, rather than not at all."""
    inbox.event(make_event, status="AVAILABLE_FOR_PICKUP", held_until="2099-01-01")
    assert inbox.answer("STOP") is not None
    inbox.send()
    ready = [r for r in inbox.rows() if r["purpose"] == "ready_for_pickup"]
    assert {(r["channel"], r["state"]) for r in ready} == {
        ("sms", "suppressed"),
        ("email", "sent"),
    }
    (email,) = [r for r in ready if r["channel"] == "email"]
    assert email["recipient"] == "r4567@example.it"


@pytest.mark.parametrize("body", ["  stop! ", "ANNULLA", "annullà"])
def test_stop_in_any_form_is_confirmed_once(inbox: Inbox, body: str) -> None:
    assert inbox.answer(body, sender=MARIA) is not None  # a number we never wrote to, too
    assert inbox.answer(body, sender=MARIA) is None
    assert inbox.answer("basta", sender=MARIA) is None
    assert len(inbox.rows(OPT_OUTS)) == 1
    again = inbox.answer("inizià", sender=MARIA)
    assert again is not None
    assert "di nuovo attivi" in again
    assert inbox.rows(OPT_OUTS) == []
    assert inbox.answer(body, sender=MARIA) is not None  # a new opt-out, confirmed anew


def test_twilios_advanced_opt_out_is_recorded_without_a_second_answer(inbox: Inbox) -> None:
    assert inbox.answer("REVOKE", OptOutType="STOP") is None
    assert [r["address"] for r in inbox.rows(OPT_OUTS)] == [GIOVANNI]
    assert inbox.answer("YES", OptOutType="START") is None
    assert inbox.rows(OPT_OUTS) == []
    assert inbox.answer("HELP", OptOutType="HELP") is None


def test_help_says_who_we_are_how_to_call_and_when(inbox: Inbox, make_event: EventFactory) -> None:
    inbox.event(make_event, phone=MARIA, locale="en")
    italian = inbox.answer("Aiuto")  # Giovanni: no parcel of ours, the company's language
    english = inbox.answer("help", sender=MARIA)
    assert italian is not None
    assert english is not None
    for text in (italian, english):
        assert "Rapido Consegne" in text
        assert "+39 02 1234 5678" in text
    assert "lun-ven 08:00-20:00" in italian
    assert "assistenza" in italian
    assert "Mon-Fri 08:00-20:00" in english
    assert "customer service" in english


def test_a_question_gets_the_parcels_status_and_link_in_italian(
    inbox: Inbox, make_event: EventFactory
) -> None:
    inbox.event(make_event)
    inbox.send()
    text = inbox.answer("dov'è il mio pacco?")
    assert text is not None
    assert re.search(
        r"il pacco RP12 3456 789IT non è stato consegnato (oggi|\w+ \d+/\d+) alle", text
    )
    assert inbox.link_url() in text
    assert "dov" not in text  # never the recipient's own words back
    (row,) = inbox.rows(INBOUND)
    assert (row["kind"], row["sender"], row["shipment_id"]) == ("status", GIOVANNI, 1)


def test_another_persons_parcel_is_never_told(inbox: Inbox, make_event: EventFactory) -> None:
    inbox.event(make_event, tracking_number="RP111111111IT", phone=GIOVANNI)
    inbox.event(make_event, tracking_number="RP222222222IT", phone=MARIA, locale="en")
    giovanni_link, maria_link = inbox.link_url(0), inbox.link_url(1)
    maria = inbox.answer("where is my parcel", sender=MARIA)
    assert maria is not None
    assert "RP22 2222 222IT" in maria
    assert maria_link in maria
    assert "RP11" not in maria
    assert giovanni_link not in maria
    assert "could not be delivered" in maria  # in her language
    stranger = inbox.answer("dov'è il pacco di Giovanni?", sender=STRANGER)
    assert stranger is not None
    assert "RP11" not in stranger
    assert "RP22" not in stranger
    assert "/r/" not in stranger
    assert "assistenza" in stranger  # the help text
    # Almost the number is not the number.
    assert "RP11" not in (inbox.answer("?", sender=GIOVANNI[:-1] + "8") or "")


def options_sms(inbox: Inbox) -> str:
    (row,) = inbox.sent("reply_options")
    body: str = row["body"]
    return body


def test_a_2_after_a_missed_delivery_books_what_the_sms_numbered_2_and_confirms_it(
    inbox: Inbox, make_event: EventFactory
) -> None:
    inbox.event(make_event)
    inbox.send()
    missed, options = inbox.sent("missed_delivery"), options_sms(inbox)
    assert missed
    assert missed[0]["id"] < inbox.sent("reply_options")[0]["id"]
    assert "2 per ritirarlo presso Milano Nord" in options
    assert inbox.answer("2") is None  # the confirmation follows through the outbox
    (booking,) = inbox.rows(REBOOKINGS)
    assert (booking["kind"], booking["pickup_point"]) == ("pickup", "MI01")
    inbox.send()
    (confirmation,) = inbox.sent("rebooking_confirmed")
    assert "Milano Nord" in confirmation["body"]
    assert "confermato" in confirmation["body"]


def test_a_1_books_the_day_and_window_the_sms_named(inbox: Inbox, make_event: EventFactory) -> None:
    inbox.event(make_event)
    inbox.send()
    text = options_sms(inbox)
    numbered = re.search(r"1 per la consegna (\w+ \d+/\d+), (\d\d:\d\d-\d\d:\d\d)", text)
    assert numbered is not None, text
    assert inbox.answer(" 1. ") is None
    (booking,) = inbox.rows(REBOOKINGS)
    assert booking["kind"] == "slot"
    assert (day_short(booking["day"], "it"), booking["window"]) == numbered.groups()


def test_a_digit_the_sms_did_not_offer_is_answered_with_the_link(
    engine: Engine, make_event: EventFactory
) -> None:
    depot = {
        "code": "MI01",
        "name": "Milano Nord",
        "address": "Via Esempio 12, Milano",
        "rebooking_options": ["slot", "pickup", "neighbour"],
    }
    inbox = Inbox(engine, depots=[depot])
    inbox.event(make_event)
    inbox.send()
    text = options_sms(inbox)
    assert " 3 " not in text
    assert "telefonata" not in text
    for digit in ("3", "7"):
        answer = inbox.answer(digit)
        assert answer is not None
        assert f"{digit} non è una scelta possibile per il pacco RP12 3456 789IT" in answer
        assert inbox.link_url() in answer
    assert inbox.rows(REBOOKINGS) == []


def test_a_digit_without_any_options_sms_books_nothing(
    engine: Engine, make_event: EventFactory
) -> None:
    inbox = Inbox(engine, rebooking={"sms_reply_menu": False})
    inbox.event(make_event)
    inbox.send()
    assert inbox.sent("reply_options") == []
    answer = inbox.answer("2")
    assert answer is not None
    assert "non è una scelta possibile" in answer
    assert inbox.rows(REBOOKINGS) == []
    assert "assistenza" in (inbox.answer("1", sender=STRANGER) or "")  # the help text


def test_a_full_slot_is_answered_with_the_link_and_books_nothing(
    engine: Engine, make_event: EventFactory
) -> None:
    inbox = Inbox(engine, rebooking={"slots": [{"window": "00:00-24:00", "capacity": 0}]})
    inbox.event(make_event)
    inbox.send()
    answer = inbox.answer("1")
    assert answer is not None
    assert "è al completo" in answer
    assert inbox.link_url() in answer
    assert inbox.rows(REBOOKINGS) == []


def test_after_the_depots_list_is_printed_a_digit_books_nothing(
    engine: Engine, make_event: EventFactory
) -> None:
    rome = ZoneInfo("Europe/Rome")
    today = datetime.now(rome).date()
    # Yesterday at 09:00 (Rome) the driver missed; the next attempt is today, so choices
    # closed yesterday at change_until; the options SMS went out yesterday, still open.
    inbox = Inbox(engine, rebooking={"change_until": "18:00"})
    attempted = datetime.combine(today - timedelta(days=1), datetime.min.time(), rome)
    attempted += timedelta(hours=9)
    inbox.event(
        make_event,
        at=attempted.astimezone(UTC),
        next_attempt={"date": today.isoformat(), "window": "14:00-18:00"},
    )
    inbox.send(at=attempted.astimezone(UTC) + timedelta(minutes=2))
    assert "1 per la consegna" in options_sms(inbox)
    answer = inbox.answer("2")
    assert answer is not None
    assert "non si può più cambiare" in answer
    assert inbox.rows(REBOOKINGS) == []


def test_twilios_retry_of_a_message_is_answered_once(
    inbox: Inbox, make_event: EventFactory
) -> None:
    inbox.event(make_event)
    inbox.send()
    assert inbox.answer("2", sid="SM" + "b" * 32) is None
    assert inbox.answer("2", sid="SM" + "b" * 32) is None
    assert len(inbox.rows(REBOOKINGS)) == 1
    assert inbox.answer("dov'è?", sid="SM" + "c" * 32) is not None
    assert inbox.answer("dov'è?", sid="SM" + "c" * 32) is None
    assert len(inbox.rows(INBOUND)) == 2
    inbox.send()
    assert len(inbox.sent("rebooking_confirmed")) == 1


def test_answers_are_limited_per_number_but_stop_always_counts(
    inbox: Inbox, make_event: EventFactory
) -> None:
    (_, most), _ = REPLY_LIMITS
    inbox.event(make_event)
    for _ in range(most):
        assert inbox.answer("dov'è?") is not None
    assert inbox.answer("dov'è?") is None
    assert inbox.answer("aiuto") is None
    assert inbox.answer("dov'è?", sender=MARIA) is not None  # another number's own share
    stopped = inbox.answer("STOP")
    assert stopped is not None
    assert "non le invieremo più SMS" in stopped
    assert inbox.answer("INIZIA") is None  # opted back in, without a word over the limit
    assert inbox.rows(OPT_OUTS) == []
    kinds = [r["kind"] for r in inbox.rows(INBOUND) if r["sender"] == GIOVANNI]
    assert kinds == ["status"] * most + ["limited", "limited", "stop", "start"]


def test_with_replies_off_only_the_words_the_law_asks_for_are_answered(
    engine: Engine, make_event: EventFactory
) -> None:
    inbox = Inbox(engine, channels={"sms": {"replies": False}})
    inbox.event(make_event)
    inbox.send()
    assert inbox.sent("missed_delivery")
    assert inbox.sent("reply_options") == []
    assert inbox.answer("dov'è il mio pacco?") is None
    assert inbox.answer("2") is None
    help_text = inbox.answer("AIUTO") or ""
    assert "assistenza" in help_text
    assert "ci scriva qui" not in help_text  # questions go unanswered: help does not offer them
    assert "non le invieremo" in (inbox.answer("STOP") or "")
    assert inbox.rows(REBOOKINGS) == []


def test_a_number_that_opted_out_gets_no_status(inbox: Inbox, make_event: EventFactory) -> None:
    inbox.event(make_event)
    inbox.send()
    inbox.answer("STOP")
    assert inbox.answer("dov'è?") is None
    assert inbox.answer("2") is None
    assert inbox.rows(REBOOKINGS) == []


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(
    inbox: Inbox, make_event: EventFactory
) -> None:
    inbox.event(make_event)
    inbox.send()
    before = inbox.rows()
    assert inbox.text("STOP", signed=False).status_code == 403
    assert inbox.text("2", signed=False).status_code == 403
    path = twilio_inbound_url(inbox.settings).split(".example", 1)[1]
    params = {"MessageSid": "SM" + "d" * 32, "From": GIOVANNI, "Body": "STOP"}
    assert inbox.client.post(path, data=params).status_code == 403
    assert inbox.client.post(path[:-4] + "0000", data=params).status_code == 404
    assert inbox.rows(INBOUND) == []
    assert inbox.rows(OPT_OUTS) == []
    assert inbox.rows(REBOOKINGS) == []
    assert inbox.rows() == before


def test_the_address_given_to_twilio_is_opaque_and_on_our_origin(inbox: Inbox) -> None:
    url = twilio_inbound_url(inbox.settings)
    assert re.fullmatch(
        r"https://notifier\.rapido\.example/webhooks/twilio/inbound/[0-9a-f]{32}", url
    )
    assert inbox.client.post("/webhooks/twilio/inbound", data={}).status_code == 404


def test_with_the_database_down_the_message_is_kept_for_twilios_retry(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'notifier.db'}")
    settings = make_settings(str(engine.url), env=ENV, web=WEB)
    url = twilio_inbound_url(settings)
    params = {"MessageSid": "SM" + "e" * 32, "From": GIOVANNI, "Body": "STOP"}
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


def test_the_cli_prints_the_address_to_give_twilio(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    public = f'public_base_url = "{WEB["public_base_url"]}"'
    text = text.replace('public_base_url = "http://127.0.0.1:8000"', public)
    config.write_text(text, encoding="utf-8")
    env = {"NOTIFIER_SECRET_KEY": TEST_SECRET_KEY, "NOTIFIER_CONFIG": None}
    result = CliRunner().invoke(cli.app, ["webhooks", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    settings = load_settings(config, {"NOTIFIER_SECRET_KEY": TEST_SECRET_KEY})
    assert twilio_inbound_url(settings) in result.stdout
    assert twilio_status_url(settings) in result.stdout
    assert twilio_inbound_url(settings).startswith("https://notifier.rapido.example/webhooks/")
