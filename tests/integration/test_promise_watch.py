"""The promise watch (issue 13, item 2): promises whose window ended open are settled, and
each broken one gets one apology to the recipient and one alert to the depot, however
many workers run; the messages render in Italian and English within the SMS budget."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from notifier.channels.console import ConsoleChannel
from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import OUTBOX, PROMISES, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.notify.followups import Followup
from notifier.rebooking import links
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Booked, Choice
from notifier.rebooking.promise_store import mark_callback_done
from notifier.rebooking.promise_watch import _settle, watch_promises
from notifier.rebooking.promises import check_call
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.shipments import ShipmentRecord
from notifier.vocabulary import Channel, PromiseState
from tests.conftest import TEST_SECRET_KEY, EventFactory, make_settings

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Rome
TUESDAY, WEDNESDAY = date(2026, 11, 24), date(2026, 11, 25)
DEPOT_EMAIL = "milano.nord@rapido.example"
LINK = "https://rapido.example/r/"
LONG_NAME = "Niccolò Bartolomeo Fiorentino-Sant'Angelo"
PROMISE_PURPOSES = ("promise_apology", "promise_alert")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def settings(engine: Engine) -> Settings:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        rebooking={"working_days": days},
        depots=[
            {
                "code": "MI01",
                "name": "Milano Nord",
                "address": "Via Esempio 12, Milano",
                "email": DEPOT_EMAIL,
            }
        ],
    )


class Watch:
    """Parcels, choices and the watch, with the clock passed in."""

    def __init__(self, engine: Engine, settings: Settings, make_event: EventFactory) -> None:
        self.engine, self.settings, self.make_event = engine, settings, make_event
        self.submissions = 0

    def event(self, tracking: str, status: str, occurred_at: str, **facts: Any) -> None:
        event = self.make_event(
            tracking_number=tracking, status=status, occurred_at=occurred_at, **facts
        )
        items = [Incoming(0, event, json.dumps(event))]
        now = at(occurred_at)
        results = list(ingest(self.engine, items, settings=self.settings, now=lambda: now))
        assert all(r.outcome.value == "stored" for r in results), results

    def missed(self, tracking: str, **facts: Any) -> None:
        self.event(
            tracking,
            "DELIVERY_ATTEMPTED",
            "2026-11-23T09:30:00+01:00",
            reason="RECIPIENT_ABSENT",
            **facts,
        )

    def choose(self, tracking: str, choice: Choice, now: datetime = NOW) -> Booked:
        self.submissions += 1
        with write_transaction(self.engine) as connection:
            shipment = ShipmentRecord.from_mapping(
                connection.execute(select(SHIPMENTS).where(SHIPMENTS.c.tracking_number == tracking))
                .one()
                ._mapping
            )
            live = links.live_links(
                connection,
                [shipment.id],
                key=self.settings.link_key,
                settings=self.settings,
                now=now,
            )
            return rebooking.book(
                connection,
                link=live[shipment.id],
                shipment=shipment,
                choice=choice,
                submission=f"form-{self.submissions}",
                settings=self.settings,
                now=now,
            )

    def watch(self, now: datetime) -> Any:
        return watch_promises(self.engine, settings=self.settings, now=now)

    def promise(self, tracking: str, kind: str) -> dict[str, Any]:
        query = (
            select(PROMISES)
            .join(SHIPMENTS, SHIPMENTS.c.id == PROMISES.c.shipment_id)
            .where(SHIPMENTS.c.tracking_number == tracking, PROMISES.c.kind == kind)
        )
        with read_transaction(self.engine) as connection:
            return dict(connection.execute(query).mappings().one())

    def followups(self, tracking: str | None = None) -> list[dict[str, Any]]:
        query = (
            select(OUTBOX, SHIPMENTS.c.tracking_number)
            .join(SHIPMENTS, SHIPMENTS.c.id == OUTBOX.c.shipment_id)
            .where(OUTBOX.c.purpose.in_(PROMISE_PURPOSES))
            .order_by(OUTBOX.c.id)
        )
        if tracking is not None:
            query = query.where(SHIPMENTS.c.tracking_number == tracking)
        with read_transaction(self.engine) as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def dispatch(self, now: datetime) -> None:
        printed = io.StringIO()
        channels = {
            Channel.SMS: ConsoleChannel("sms", printed),
            Channel.EMAIL: ConsoleChannel("email", printed),
        }
        Dispatcher(
            engine=self.engine,
            settings=self.settings,
            channels=channels,
            templates=build_environment(self.settings),
            worker="w1",
        ).run_once(now)


@pytest.fixture
def watch(engine: Engine, settings: Settings, make_event: EventFactory) -> Watch:
    return Watch(engine, settings, make_event)


def callback(day: date, window: str = "14:00-17:00") -> Choice:
    return Choice(kind="callback", day=day, window=window)


def slot(day: date, window: str = "09:00-13:00") -> Choice:
    return Choice(kind="slot", day=day, window=window)


def kinds(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["purpose"], r["channel"], r["recipient"]) for r in rows]


APOLOGY_SMS = ("promise_apology", "sms", "+393331234567")
ALERT = ("promise_alert", "email", DEPOT_EMAIL)


# Callbacks ----------------------------------------------------------------------------


def test_a_callback_not_done_by_its_window_end_is_apologised_for_and_alerted_once(
    watch: Watch,
) -> None:
    watch.missed("RPCALL")
    booked = watch.choose("RPCALL", callback(TUESDAY))
    end = at("2026-11-24T17:00:00+01:00")
    watch.watch(at("2026-11-24T16:59:00+01:00"))
    assert watch.promise("RPCALL", "callback")["state"] == "open"
    assert watch.followups() == []

    stats = watch.watch(end)
    again = watch.watch(end)  # a second worker, or the next round
    promise = watch.promise("RPCALL", "callback")
    assert (promise["state"], promise["broken_at"]) == ("broken", end)
    assert kinds(watch.followups()) == [APOLOGY_SMS, ALERT]
    assert all(r["rebooking_id"] == booked.id for r in watch.followups())
    assert all(r["due_at"] == end for r in watch.followups())
    assert (stats.settled, stats.apologies, stats.alerts) == ({"broken": 1}, 1, 1)
    assert (again.settled, again.apologies, again.alerts) == ({}, 0, 0)


def test_two_workers_at_once_act_on_a_broken_promise_once(watch: Watch) -> None:
    for tracking in ("RPONE", "RPTWO", "RPTHREE"):
        watch.missed(tracking)
        watch.choose(tracking, callback(TUESDAY))
    end = at("2026-11-24T17:00:00+01:00")
    with ThreadPoolExecutor(max_workers=2) as pool:
        rounds = list(pool.map(watch.watch, [end, end]))
    assert sum(s.settled.get("broken", 0) for s in rounds) == 3
    assert sum(s.apologies for s in rounds) == 3
    assert sum(s.alerts for s in rounds) == 3
    assert len(watch.followups()) == 6


def test_a_worker_that_read_a_promise_before_another_broke_it_changes_nothing(
    watch: Watch, engine: Engine
) -> None:
    watch.missed("RPLATE")
    watch.choose("RPLATE", callback(TUESDAY))
    end = at("2026-11-24T17:00:00+01:00")
    watch.watch(end)
    promise = watch.promise("RPLATE", "callback")
    # What the slower worker would write after its read: the compare-and-set refuses it.
    with write_transaction(engine) as connection:
        assert not _settle(connection, promise["id"], Followup(PromiseState.BROKEN, end), end)
    assert len(watch.followups()) == 2


def test_a_callback_done_inside_its_window_is_kept_and_answered_by_nothing(
    watch: Watch, engine: Engine
) -> None:
    watch.missed("RPDONE")
    watch.choose("RPDONE", callback(TUESDAY))
    promise = watch.promise("RPDONE", "callback")
    with write_transaction(engine) as connection:
        call = check_call("Anna", "reached", None)
        mark_callback_done(
            connection, promise["id"], call=call, now=at("2026-11-24T15:00:00+01:00")
        )
    stats = watch.watch(at("2026-11-24T18:00:00+01:00"))
    assert watch.promise("RPDONE", "callback")["state"] == "kept"
    assert watch.followups() == []
    assert stats.settled == {}


def test_an_apology_due_at_23_waits_for_the_morning_and_the_alert_does_not(
    watch: Watch,
) -> None:
    watch.missed("RPNIGHT")
    watch.choose("RPNIGHT", callback(TUESDAY))
    late = at("2026-11-24T23:00:00+01:00")  # the watch was down all evening
    watch.watch(late)
    apology, alert = watch.followups()
    assert apology["purpose"] == "promise_apology"
    assert apology["due_at"] == at("2026-11-25T08:00:00+01:00")
    assert alert["due_at"] == late


@pytest.mark.parametrize(
    ("outcome", "apology"),
    [("reached", "cancelled"), ("no_answer", "sent")],
)
def test_a_late_callback_cancels_what_it_makes_untrue(
    watch: Watch, engine: Engine, outcome: str, apology: str
) -> None:
    watch.missed("RPLATECALL")
    watch.choose("RPLATECALL", callback(TUESDAY))
    watch.watch(at("2026-11-24T23:00:00+01:00"))  # the apology waits for 08:00
    promise = watch.promise("RPLATECALL", "callback")
    with write_transaction(engine) as connection:
        call = check_call("Anna", outcome, None)
        mark_callback_done(
            connection, promise["id"], call=call, now=at("2026-11-24T23:10:00+01:00")
        )
    watch.dispatch(at("2026-11-24T23:11:00+01:00"))
    watch.dispatch(at("2026-11-25T08:00:00+01:00"))
    states = {r["purpose"]: (r["state"], r["last_error"]) for r in watch.followups()}
    # Staff made the call: the depot's alert to make it would be untrue.
    assert states["promise_alert"] == ("cancelled", "stale: the callback has been made since")
    if apology == "cancelled":
        assert states["promise_apology"] == (
            "cancelled",
            "stale: the recipient has been called since",
        )
    else:  # nobody answered: the recipient still had no call, and hears why
        assert states["promise_apology"][0] == "sent"
    assert watch.promise("RPLATECALL", "callback")["state"] == "broken"


# Delivery windows ---------------------------------------------------------------------


def test_a_slot_that_ends_without_a_delivery_is_apologised_for_and_alerted(watch: Watch) -> None:
    watch.missed("RPSLOT")
    watch.choose("RPSLOT", slot(WEDNESDAY))
    watch.event("RPSLOT", "OUT_FOR_DELIVERY", "2026-11-25T08:10:00+01:00")
    stats = watch.watch(at("2026-11-25T13:00:00+01:00"))
    assert watch.promise("RPSLOT", "slot")["state"] == "broken"
    assert kinds(watch.followups()) == [APOLOGY_SMS, ALERT]
    assert (stats.apologies, stats.alerts) == (1, 1)


def test_a_delivery_inside_the_slot_keeps_it_and_nothing_is_sent(watch: Watch) -> None:
    watch.missed("RPKEPT")
    watch.choose("RPKEPT", slot(WEDNESDAY))
    watch.event("RPKEPT", "DELIVERED", "2026-11-25T11:20:00+01:00")
    watch.watch(at("2026-11-25T13:00:00+01:00"))
    promise = watch.promise("RPKEPT", "slot")
    assert (promise["state"], promise["kept_at"]) == ("kept", at("2026-11-25T11:20:00+01:00"))
    assert watch.followups() == []


def test_an_attempt_inside_the_window_excuses_it_and_an_exception_breaks_it(
    watch: Watch,
) -> None:
    for tracking in ("RPCAME", "RPSTUCK"):
        watch.missed(tracking)
        watch.choose(tracking, slot(WEDNESDAY))
    watch.event(
        "RPCAME", "DELIVERY_ATTEMPTED", "2026-11-25T10:05:00+01:00", reason="RECIPIENT_ABSENT"
    )
    watch.event("RPSTUCK", "EXCEPTION", "2026-11-25T10:05:00+01:00", reason="DAMAGED")
    watch.watch(at("2026-11-25T13:00:00+01:00"))
    came = watch.promise("RPCAME", "slot")
    assert (came["state"], came["excuse"]) == ("excused", "attempted")
    assert watch.promise("RPSTUCK", "slot")["state"] == "broken"
    assert [r["tracking_number"] for r in watch.followups()] == ["RPSTUCK", "RPSTUCK"]


def test_an_announced_next_attempt_that_never_came_is_apologised_for(watch: Watch) -> None:
    watch.missed("RPNEXT", next_attempt={"date": "2026-11-24", "window": "10:00-14:00"})
    watch.watch(at("2026-11-24T14:00:00+01:00"))
    promise = watch.promise("RPNEXT", "next_attempt")
    assert promise["state"] == "broken"
    rows = watch.followups()
    assert kinds(rows) == [APOLOGY_SMS, ALERT]
    assert all(r["status_event_id"] == promise["status_event_id"] for r in rows)


# What they say ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "window", "sorry"),
    [("it", "mar 24/11, 14:00-17:00", "ci scusi"), ("en", "Tue 24/11, 14:00-17:00", "sorry")],
    ids=["it", "en"],
)
def test_the_apology_and_alert_render_with_the_window_and_the_link(
    watch: Watch, locale: str, window: str, sorry: str
) -> None:
    recipient = {
        "name": LONG_NAME,
        "phone": "+39 333 123 4567",
        "locale": locale,
        "address": {"line1": "Via Roma 1", "city": "Milano"},
        "postcode": "20121",
    }
    watch.missed("RPWORDS", recipient=recipient, route_stop=17)
    watch.choose("RPWORDS", callback(TUESDAY))
    end = at("2026-11-24T17:00:00+01:00")
    watch.watch(end)
    watch.dispatch(end)
    apology, alert = watch.followups()
    assert (apology["state"], alert["state"]) == ("sent", "sent")
    sms = apology["body"]
    assert sorry in sms.lower()
    assert window in sms.replace("–", "-")
    assert LINK in sms
    # Counted on the text as sent (the outbox keeps it without the link's token).
    assert (apology["encoding"], apology["segments"] <= 2) == ("GSM-7", True), sms
    # The depot's alert: in the company's language, with what it takes to act.
    body = alert["body"]
    assert "24/11" in (alert["subject"] or "")
    facts = ("RPWO RDS", "+39 333 123 4567", LONG_NAME, "Via Roma 1", "20121", ": 17", "14:00")
    for fact in facts:
        assert fact in body, fact
    assert "ha ricevuto le nostre scuse per SMS, con il link per scegliere di nuovo" in body


def test_the_alert_says_when_the_recipient_will_hear(watch: Watch) -> None:
    watch.missed("RPNIGHTWORDS")
    watch.choose("RPNIGHTWORDS", callback(TUESDAY))
    late = at("2026-11-24T23:00:00+01:00")
    watch.watch(late)
    watch.dispatch(late)
    apology, alert = watch.followups()
    assert (apology["state"], alert["state"]) == ("pending", "sent")
    assert "riceverà le nostre scuse per SMS mercoledì 25 novembre, 08:00" in alert["body"]


def test_the_alert_says_when_nobody_could_tell_the_recipient(watch: Watch) -> None:
    watch.missed("RPNOBODYTOLD", recipient={"name": "Giovanni Bianchi", "locale": "it"})
    watch.choose("RPNOBODYTOLD", slot(WEDNESDAY))
    end = at("2026-11-25T13:00:00+01:00")
    stats = watch.watch(end)
    watch.dispatch(end)
    (alert,) = watch.followups()
    assert stats.no_contact == [watch.promise("RPNOBODYTOLD", "slot")["id"]]
    assert alert["state"] == "sent"
    assert "il destinatario non è stato avvisato" in alert["body"]
    assert "nessun numero valido" in alert["body"]


@pytest.mark.parametrize(
    ("locale", "next_said"),
    [("it", "Nuovo passaggio: gio 26/11"), ("en", "Next attempt: Thu 26/11")],
)
def test_the_apology_says_what_happens_next(watch: Watch, locale: str, next_said: str) -> None:
    recipient = {"name": "Giovanni Bianchi", "phone": "+39 333 123 4567", "locale": locale}
    watch.missed("RPNEXTSAID", recipient=recipient)
    watch.choose("RPNEXTSAID", slot(WEDNESDAY))
    watch.event(
        "RPNEXTSAID",
        "EXCEPTION",
        "2026-11-25T10:05:00+01:00",
        reason="DELAYED",
        next_attempt={"date": "2026-11-26", "window": "09:00-13:00"},
        recipient=recipient,
    )
    end = at("2026-11-25T13:00:00+01:00")
    watch.watch(end)
    watch.dispatch(end)
    apology = next(r for r in watch.followups() if r["purpose"] == "promise_apology")
    assert apology["state"] == "sent", apology["last_error"]
    assert next_said in apology["body"]
    assert LINK in apology["body"]


def test_an_apology_by_email_when_there_is_no_phone(watch: Watch) -> None:
    recipient = {"name": "Giovanni Bianchi", "email": "giovanni@example.it", "locale": "en"}
    watch.missed("RPMAIL", recipient=recipient)
    watch.choose("RPMAIL", slot(WEDNESDAY))
    end = at("2026-11-25T13:00:00+01:00")
    watch.watch(end)
    watch.dispatch(end)
    apology, _alert = watch.followups()
    assert (apology["channel"], apology["recipient"], apology["state"]) == (
        "email",
        "giovanni@example.it",
        "sent",
    )
    assert "Wednesday 25 November, 09:00–13:00" in apology["body"]
    assert LINK in apology["body"]


# Escalation ---------------------------------------------------------------------------

SUPERVISOR = "turni@rapido.example"


def test_a_broken_callback_still_not_made_is_escalated_once_to_the_supervisor(
    engine: Engine, make_event: EventFactory
) -> None:
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        rebooking={"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        promises={"supervisor_email": SUPERVISOR, "escalate_after_hours": 4},
    )
    watch = Watch(engine, settings, make_event)
    for tracking in ("RPFORGOT", "RPCALLEDLATE"):
        watch.missed(tracking)
        watch.choose(tracking, callback(TUESDAY))
    watch.watch(at("2026-11-24T17:00:00+01:00"))
    late_call = watch.promise("RPCALLEDLATE", "callback")
    with write_transaction(engine) as connection:
        call = check_call("Anna", "no_answer", None)
        mark_callback_done(
            connection, late_call["id"], call=call, now=at("2026-11-24T18:00:00+01:00")
        )
    assert watch.watch(at("2026-11-24T20:59:00+01:00")).escalations == 0
    first = watch.watch(at("2026-11-24T21:00:00+01:00"))
    second = watch.watch(at("2026-11-24T22:00:00+01:00"))
    assert (first.escalations, second.escalations) == (1, 0)
    with read_transaction(engine) as connection:
        rows = connection.execute(
            select(OUTBOX.c.purpose, OUTBOX.c.recipient, SHIPMENTS.c.tracking_number)
            .join(SHIPMENTS, SHIPMENTS.c.id == OUTBOX.c.shipment_id)
            .where(OUTBOX.c.purpose == "promise_escalation")
        ).all()
    assert [tuple(r) for r in rows] == [("promise_escalation", SUPERVISOR, "RPFORGOT")]
    watch.dispatch(at("2026-11-24T21:00:00+01:00"))
    with read_transaction(engine) as connection:
        sent = connection.execute(
            select(OUTBOX.c.state, OUTBOX.c.subject, OUTBOX.c.body).where(
                OUTBOX.c.purpose == "promise_escalation"
            )
        ).one()
    assert sent.state == "sent"
    assert "mar 24/11, 14:00–17:00" in sent.subject
    assert "+39 333 123 4567" in sent.body


def test_without_a_supervisor_nothing_is_escalated(watch: Watch) -> None:
    watch.missed("RPNOBODY")
    watch.choose("RPNOBODY", callback(TUESDAY))
    watch.watch(at("2026-11-24T17:00:00+01:00"))
    assert watch.watch(at("2026-11-25T17:00:00+01:00")).escalations == 0


@pytest.mark.parametrize("locale", ["it", "en"])
@pytest.mark.parametrize("kind", ["callback", "slot", "next_attempt"])
def test_apologies_keep_the_sms_budget_on_the_shipped_config(
    engine: Engine, make_event: EventFactory, locale: str, kind: str
) -> None:
    env = {
        "NOTIFIER_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
    }
    watch = Watch(engine, load_settings(REPO / "config.example.toml", env), make_event)
    recipient = {"name": LONG_NAME, "phone": "+39 333 123 4567", "locale": locale}
    tracking = "RP123456789IT"
    if kind == "next_attempt":
        watch.missed(
            tracking,
            recipient=recipient,
            next_attempt={"date": "2026-11-24", "window": "10:00-14:00"},
        )
        end = at("2026-11-24T14:00:00+01:00")
    else:
        watch.missed(tracking, recipient=recipient)
        watch.choose(
            tracking, callback(TUESDAY, "09:00-12:00") if kind == "callback" else slot(TUESDAY)
        )
        end = at("2026-11-24T13:00:00+01:00")
    watch.watch(end)
    watch.dispatch(end)
    apology = next(r for r in watch.followups() if r["purpose"] == "promise_apology")
    assert apology["state"] == "sent", apology["last_error"]
    assert (apology["encoding"], apology["segments"] <= 2) == ("GSM-7", True), apology["body"]
    assert "24/11" in apology["body"]
    assert str(watch.settings.company.rebooking_base_url) in apology["body"]
