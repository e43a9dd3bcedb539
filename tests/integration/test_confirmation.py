"""A booking's confirmation, from the outbox to the channel: the choice in the recipient's words."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import OUTBOX, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import choices, links
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Choice
from notifier.rendering.environment import build_environment
from notifier.sending.compose import WITHHELD
from notifier.sending.dispatch import Dispatcher
from notifier.shipments import ShipmentRecord
from tests.conftest import EventFactory, make_settings
from tests.integration.test_links import Recording

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Rome
TUESDAY_MORNING = Choice(kind="slot", day=date(2026, 11, 24), window="09:00-13:00")


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(engine.url.render_as_string(hide_password=False))


def store(engine: Engine, settings: Settings, *events: dict[str, Any]) -> None:
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    list(ingest(engine, items, settings=settings, now=lambda: NOW))


def missed(make_event: EventFactory, **changes: Any) -> dict[str, Any]:
    fields = {
        "tracking_number": "RP123456789IT",
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": "2026-11-23T09:30:00+01:00",
    }
    return make_event(**{**fields, **changes})


def book(
    engine: Engine, settings: Settings, choice: Choice, submission: str = "form"
) -> tuple[choices.Booked, links.Link]:
    with write_transaction(engine) as connection:
        shipment = ShipmentRecord.from_mapping(connection.execute(select(SHIPMENTS)).one()._mapping)
        key = settings.link_key
        live = links.live_links(connection, [shipment.id], key=key, settings=settings, now=NOW)
        link = live[shipment.id]
        booked = rebooking.book(
            connection,
            link=link,
            shipment=shipment,
            choice=choice,
            submission=submission,
            settings=settings,
            now=NOW,
        )
    return booked, link


def dispatch(engine: Engine, settings: Settings) -> tuple[Recording, Recording, dict[str, int]]:
    sms, email = Recording("sms"), Recording("email")
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels={"sms": sms, "email": email},
        templates=build_environment(settings),
        worker="w1",
    )
    outcomes = dict(dispatcher.run_once(NOW).outcomes)
    return sms, email, outcomes


def confirmations(engine: Engine) -> list[dict[str, Any]]:
    with read_transaction(engine) as connection:
        query = (
            select(OUTBOX).where(OUTBOX.c.purpose == "rebooking_confirmed").order_by(OUTBOX.c.id)
        )
        return [dict(row) for row in connection.execute(query).mappings()]


def dispatch_at(engine: Engine, settings: Settings, now: datetime) -> dict[str, int]:
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels={"sms": Recording("sms"), "email": Recording("email")},
        templates=build_environment(settings),
        worker="w1",
    )
    return dict(dispatcher.run_once(now).outcomes)


def test_a_recipient_who_has_chosen_gets_no_reminder_to_choose(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, missed(make_event))
    assert dispatch_at(engine, settings, NOW) == {"sent": 1}  # "we missed you"
    book(engine, settings, TUESDAY_MORNING)
    dispatch_at(engine, settings, NOW)  # the confirmation
    assert dispatch_at(engine, settings, NOW + timedelta(hours=25)) == {"cancelled": 1}
    with read_transaction(engine) as connection:
        reminder = (
            connection.execute(select(OUTBOX).where(OUTBOX.c.purpose == "missed_delivery_reminder"))
            .mappings()
            .one()
        )
    assert (reminder["state"], reminder["last_error"]) == (
        "cancelled",
        "stale: the recipient has chosen since",
    )


def test_a_reminder_still_goes_when_nobody_has_chosen(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, missed(make_event))
    assert dispatch_at(engine, settings, NOW) == {"sent": 1}
    assert dispatch_at(engine, settings, NOW + timedelta(hours=25)) == {"sent": 1}


def test_a_booked_slot_is_confirmed_by_sms_in_italian(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, missed(make_event))
    booked, link = book(engine, settings, TUESDAY_MORNING)
    sms, email, outcomes = dispatch(engine, settings)
    # The confirmation goes; "we missed you, choose" is stale once the recipient has chosen.
    assert outcomes == {"sent": 1, "cancelled": 1}
    assert email.sent == []
    (message,) = [m for m in sms.sent if m.outbox_id == confirmations(engine)[0]["id"]]
    assert "mar 24/11, 09:00-13:00" in message.body
    assert "RP12 3456 789IT" in message.body
    assert link.url in message.body
    assert "+39 02 1234 5678" in message.body
    (row,) = confirmations(engine)
    assert (row["purpose"], row["rebooking_id"]) == ("rebooking_confirmed", booked.id)
    kept = message.body.replace(link.token, WITHHELD)  # no working link in the database
    assert (row["state"], row["encoding"], row["body"]) == ("sent", "GSM-7", kept)
    assert row["segments"] <= 2


def test_an_english_recipient_is_confirmed_in_english(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    recipient = {"name": "Jane Doe", "phone": "+39 333 123 4567", "locale": "en"}
    store(engine, settings, missed(make_event, recipient=recipient))
    book(engine, settings, TUESDAY_MORNING)
    sms, _, _ = dispatch(engine, settings)
    (message,) = [m for m in sms.sent if m.outbox_id == confirmations(engine)[0]["id"]]
    assert message.locale == "en"
    assert "confirmed, we will deliver parcel RP12 3456 789IT on Tue 24/11, 09:00-13:00" in (
        message.body
    )


def test_without_a_phone_the_confirmation_is_an_email(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    recipient = {"name": "Giovanni Bianchi", "email": "giovanni@example.it", "locale": "it"}
    store(engine, settings, missed(make_event, recipient=recipient))
    _, link = book(engine, settings, TUESDAY_MORNING)
    sms, email, _ = dispatch(engine, settings)
    assert sms.sent == []
    (message,) = [m for m in email.sent if m.outbox_id == confirmations(engine)[0]["id"]]
    assert message.subject == "Confermato: consegna martedì 24 novembre, 09:00–13:00"
    assert "Gentile Giovanni Bianchi" in message.body
    assert "martedì 24 novembre, nella fascia 09:00–13:00" in message.body
    assert "fino alle 18:00 di lunedì 23 novembre" in message.body
    assert "RP12 3456 789IT" in message.body
    assert message.body.count(link.url) == 1
    assert message.body_html is not None
    assert link.url in message.body_html


def test_a_delivered_parcel_does_not_make_the_confirmation_stale(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, missed(make_event))
    book(engine, settings, Choice(kind="neighbour", neighbour_name="Rossi"))
    # The parcel ends before the next tick: a status-bound message would be cancelled.
    delivered = make_event(status="DELIVERED", occurred_at="2026-11-23T09:59:00+01:00")
    store(engine, settings, delivered)
    sms, _, outcomes = dispatch(engine, settings)
    (row,) = confirmations(engine)
    assert row["status_event_id"] is None
    assert row["state"] == "sent", row["last_error"]
    assert any("al vicino Rossi" in m.body for m in sms.sent)
    assert outcomes.get("cancelled", 0) == 1  # the missed-delivery message, not the confirmation


def test_a_choice_changed_before_the_tick_sends_only_the_newer_confirmation(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, missed(make_event))
    first, _ = book(engine, settings, TUESDAY_MORNING, "a")
    second, _ = book(engine, settings, Choice(kind="safe_place", instructions="garage"), "b")
    sms, _, _ = dispatch(engine, settings)
    older, newer = confirmations(engine)
    assert (older["purpose"], older["rebooking_id"]) == ("rebooking_confirmed", first.id)
    assert (older["state"], older["last_error"]) == (
        "cancelled",
        "stale: the recipient has since made another choice",
    )
    assert (newer["purpose"], newer["rebooking_id"]) == ("rebooking_confirmed", second.id)
    assert newer["state"] == "sent"
    assert not any("09:00-13:00" in m.body for m in sms.sent)
    assert any("nel luogo che ha indicato" in m.body for m in sms.sent)


def test_a_callback_is_confirmed_with_its_day_and_window(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, missed(make_event))
    book(engine, settings, Choice(kind="callback", day=date(2026, 11, 25), window="14:00-17:00"))
    sms, _, _ = dispatch(engine, settings)
    (message,) = [m for m in sms.sent if m.outbox_id == confirmations(engine)[0]["id"]]
    assert "la richiameremo mer 25/11, 14:00-17:00" in message.body


def test_i_was_at_home_is_forwarded_to_the_depot(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, missed(make_event))
    comment = "Ero in casa tutto il giorno, il citofono funziona"
    book(engine, settings, Choice(kind="dispute", instructions=comment))
    sms, email, outcomes = dispatch(engine, settings)
    # The recipient's confirmation and the depot's copy; "we missed you, choose" is stale
    # now that the recipient has answered it.
    assert outcomes == {"sent": 2, "cancelled": 1}
    depot = next(d for d in settings.depots if d.code == "MI01")
    (forward,) = email.sent
    assert forward.recipient == (depot.email or settings.company.email)
    assert "RP12 3456 789IT" in (forward.subject or "")
    assert comment in forward.body
    assert "09:30" in forward.body
    (confirmation,) = [m for m in sms.sent if m.outbox_id == confirmations(engine)[0]["id"]]
    assert "deposito" in confirmation.body
