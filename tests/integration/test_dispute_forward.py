""" "I was at home", chosen on the real page, reaches the depot with what it takes to act:
the recipient's phone, address and route stop, and what to do; inert, in ops' language."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.channels.console import ConsoleChannel
from notifier.config import Settings
from notifier.db.engine import read_transaction
from notifier.db.tables import OUTBOX, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.purposes import Purpose
from notifier.rebooking import links
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.vocabulary import Channel
from tests.conftest import BASE_CONFIG, make_settings
from tests.integration.conftest import ClientFactory
from tests.integration.test_rebook_pages import CSRF

COMMENT = "Ero in casa tutto il giorno, il citofono funziona"
ADDRESS = {
    "line1": "Via Solferino 12",
    "line2": "Scala B, int. 4\u202e (vedi https://evil.example/p)",  # an override, a link
    "city": "Milano",
}
RECIPIENT = {
    "name": "Giovanni Bianchi",
    "phone": "+39 333 123 4567",
    "email": "giovanni@example.it",
    "postcode": "20121",
    "locale": "it",
    "address": ADDRESS,
}


class Depot:
    """A missed delivery on a real app in ops' language, and the outbox sent to the console."""

    def __init__(self, engine: Engine, make_client: ClientFactory, language: str) -> None:
        company = {**BASE_CONFIG["company"], "default_locale": language}
        self.engine = engine
        self.client: TestClient = make_client(engine, env={}, company=company)
        url = engine.url.render_as_string(hide_password=False)
        self.settings: Settings = make_settings(url, company=company)
        self.now = datetime.now(UTC)  # the page reads the clock

    def missed(self, **changes: Any) -> str:
        """Store the attempt; the token of its rebooking link."""
        event = {
            "event_id": "e-1",
            "tracking_number": "RP123456789IT",
            "status": "DELIVERY_ATTEMPTED",
            "reason": "RECIPIENT_ABSENT",
            "occurred_at": (self.now - timedelta(minutes=20)).isoformat(),
            "depot": "MI01",
            "route_stop": 17,
            "recipient": RECIPIENT,
            **changes,
        }
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: self.now))
        with read_transaction(self.engine) as connection:
            (shipment_id,) = connection.execute(select(SHIPMENTS.c.id)).scalars()
            live = links.live_links(
                connection,
                [shipment_id],
                key=self.settings.link_key,
                settings=self.settings,
                now=self.now,
            )
        return live[shipment_id].token

    def dispute(self, token: str) -> None:
        page = self.client.get(f"/r/{token}/dispute")
        assert page.status_code == 200, page.text
        csrf = CSRF.search(page.text)
        assert csrf is not None
        fields = {"csrf": csrf.group(1), "comment": COMMENT}
        answer = self.client.post(f"/r/{token}/dispute", data=fields)
        assert answer.status_code == 200, answer.text

    def send(self) -> tuple[str, dict[str, Any]]:
        """One dispatch tick: what the email console printed, and the forward's outbox row."""
        sms, email = io.StringIO(), io.StringIO()
        dispatcher = Dispatcher(
            engine=self.engine,
            settings=self.settings,
            channels={
                Channel.SMS: ConsoleChannel("sms", sms),
                Channel.EMAIL: ConsoleChannel("email", email),
            },
            templates=build_environment(self.settings),
            worker="w1",
        )
        dispatcher.run_once(datetime.now(UTC))
        with read_transaction(self.engine) as connection:
            row = (
                connection.execute(
                    select(OUTBOX).where(OUTBOX.c.purpose == Purpose.DISPUTE_FORWARD)
                )
                .mappings()
                .one()
            )
        assert row["state"] == "sent", row["last_error"]
        return email.getvalue(), dict(row)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "it",
            [
                "Fermata del giro: 17",
                "Destinatario: Giovanni Bianchi",
                "Telefono: +39 333 123 4567",
                "Indirizzo: Via Solferino 12, Scala B, int. 4 (vedi evil[.]example/p), Milano, "
                "CAP 20121",
                f'Commento del destinatario: "{COMMENT}"',
                "Motivo registrato: non c'era nessuno a ricevere il pacco",
                "1. Chieda all'autista della fermata 17 com'è andato il tentativo.",
                "2. Chiami il destinatario al +39 333 123 4567 e concordi la nuova consegna.",
            ],
        ),
        (
            "en",
            [
                "Route stop: 17",
                "Recipient: Giovanni Bianchi",
                "Phone: +39 333 123 4567",
                "Address: Via Solferino 12, Scala B, int. 4 (vedi evil[.]example/p), Milano, "
                "postcode 20121",
                f'The recipient\'s comment: "{COMMENT}"',
                "Reason recorded: nobody was in to receive the parcel",
                "1. Ask the driver of route stop 17 how the attempt went.",
                "2. Call the recipient on +39 333 123 4567 and agree the new delivery.",
            ],
        ),
    ],
)
def test_the_depot_gets_the_phone_address_and_route_stop_of_a_dispute_booked_on_the_page(
    engine: Engine, make_client: ClientFactory, language: str, expected: list[str]
) -> None:
    depot = Depot(engine, make_client, language)
    depot.dispute(depot.missed())

    printed, row = depot.send()

    assert f"EMAIL to {row['recipient']}" in printed  # the depot's address, not the recipient's
    assert "giovanni@example.it" not in printed
    local = (depot.now - timedelta(minutes=20)).astimezone(ZoneInfo("Europe/Rome"))
    assert local.strftime("%H:%M") in row["body"]  # the attempt's time
    for line in expected:
        assert line in printed, printed
        assert line in row["body"]
    # Inert: the override is gone, the address typed into the feed is no link anywhere.
    assert "\u202e" not in row["body"]
    assert "https://evil.example" not in printed
    assert "evil.example" not in row["body_html"]
    assert "href" not in row["body_html"]
    assert "+39 333 123 4567" in row["body_html"]


def test_without_a_valid_phone_or_an_address_the_depot_is_told_what_to_do_instead(
    engine: Engine, make_client: ClientFactory
) -> None:
    depot = Depot(engine, make_client, "it")
    recipient = {"name": "Giovanni Bianchi", "phone": "call me", "email": "giovanni@example.it"}
    depot.dispute(depot.missed(recipient=recipient, route_stop=None))

    printed, _ = depot.send()

    assert "Telefono: nessun numero valido" in printed
    assert "Indirizzo: non indicato" in printed
    assert "Fermata del giro: non indicata" in printed
    assert "1. Chieda all'autista com'è andato il tentativo." in printed
    assert "al prossimo passaggio l'autista suoni e verifichi l'indirizzo" in printed


def test_the_dispute_tells_of_the_attempt_its_link_stood_for_not_a_later_status(
    engine: Engine, make_client: ClientFactory
) -> None:
    depot = Depot(engine, make_client, "it")
    depot.dispute(depot.missed())
    # Before the forward goes out, the parcel moves to a pickup point.
    later = {
        "event_id": "e-2",
        "tracking_number": "RP123456789IT",
        "status": "AVAILABLE_FOR_PICKUP",
        "occurred_at": (depot.now - timedelta(minutes=3)).isoformat(),
        "pickup_point": "PP-MI-12",
    }
    items = [Incoming(0, later, json.dumps(later))]
    list(ingest(depot.engine, items, settings=depot.settings, now=lambda: depot.now))

    _, row = depot.send()

    rome = ZoneInfo("Europe/Rome")
    attempted = (depot.now - timedelta(minutes=20)).astimezone(rome).strftime("%H:%M")
    moved = (depot.now - timedelta(minutes=3)).astimezone(rome).strftime("%H:%M")
    assert f"alle {attempted}" in row["body"]
    assert f"alle {moved}" not in row["body"]
    assert "Motivo registrato: non c'era nessuno a ricevere il pacco" in row["body"]
