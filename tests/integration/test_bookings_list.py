"""The depot's day list of rebookings: which choices concern a day, as CSV and JSON, CLI and ops."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from notifier.cli import app
from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.ops.bookings import FIELDS, build_csv
from notifier.ops.store import depot_bookings
from notifier.rebooking import links
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Choice
from notifier.shipments import ShipmentRecord
from tests.conftest import EventFactory, make_settings
from tests.integration.conftest import ClientFactory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Rome
MONDAY, TUESDAY, WEDNESDAY = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
PICKUP = {"code": "PP-MI-12", "name": "Edicola Centrale", "address": "Piazza Esempio 3, Milano"}
OPS = {"NOTIFIER_OPS_PASSWORD": "ops-secret"}
runner = CliRunner()


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(engine.url.render_as_string(hide_password=False), pickup_points=[PICKUP])


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Depot:
    """Parcels missed on Monday morning, and the choices their recipients make."""

    def __init__(self, engine: Engine, settings: Settings, make_event: EventFactory) -> None:
        self.engine, self.settings, self.make_event = engine, settings, make_event
        self.submissions = 0

    def missed(self, tracking: str, **facts: Any) -> None:
        event = self.make_event(
            tracking_number=tracking,
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at="2026-11-23T09:30:00+01:00",
            **facts,
        )
        list(ingest(self.engine, [Incoming(0, event, json.dumps(event))], settings=self.settings,
                    now=lambda: NOW))  # fmt: skip

    def update(self, tracking: str, occurred_at: str, **facts: Any) -> None:
        """A later (or late) event about the parcel: no new attempt, facts only."""
        event = self.make_event(
            tracking_number=tracking,
            status="EXCEPTION",
            reason="DELAYED",
            occurred_at=occurred_at,
            **facts,
        )
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: NOW))

    def choose(self, tracking: str, choice: Choice) -> None:
        self.submissions += 1
        with write_transaction(self.engine) as connection:
            shipment = ShipmentRecord.from_mapping(
                connection.execute(select(SHIPMENTS).where(SHIPMENTS.c.tracking_number == tracking))
                .one()
                ._mapping
            )
            key = self.settings.link_key
            live = links.live_links(
                connection, [shipment.id], key=key, settings=self.settings, now=NOW
            )
            rebooking.book(
                connection,
                link=live[shipment.id],
                shipment=shipment,
                choice=choice,
                submission=f"form-{self.submissions}",
                settings=self.settings,
                now=NOW,
            )

    def day(self, day: date, depot: str | None = "MI01") -> list[tuple[str, str]]:
        with read_transaction(self.engine) as connection:
            found = depot_bookings(connection, day=day, depot=depot, settings=self.settings)
        return [(line.tracking_number, line.kind) for line in found]


@pytest.fixture
def depot(engine: Engine, settings: Settings, make_event: EventFactory) -> Depot:
    """Seven parcels, every kind of choice, one of them changed, one at another depot."""
    place = Depot(engine, settings, make_event)
    tuesday = {"date": "2026-11-24", "window": "10:00-14:00"}
    place.missed("RPSLOT", route_stop=5)
    place.choose("RPSLOT", Choice(kind="slot", day=TUESDAY, window="09:00-13:00"))
    place.missed("RPNEIGHBOUR", route_stop=2, next_attempt=tuesday)
    place.choose(
        "RPNEIGHBOUR", Choice(kind="neighbour", neighbour_name="Rossi", neighbour_door="int. 4")
    )
    place.missed("RPSAFE")
    place.choose("RPSAFE", Choice(kind="safe_place", instructions="=garage, a sinistra"))
    place.missed("RPCALL", route_stop=9)
    place.choose("RPCALL", Choice(kind="callback", day=TUESDAY, window="14:00-17:00"))
    place.missed("RPDISPUTE", route_stop=1)
    place.choose("RPDISPUTE", Choice(kind="dispute", instructions="Ero in casa"))
    place.missed("RPCHANGED", route_stop=3, next_attempt=tuesday)
    place.choose("RPCHANGED", Choice(kind="pickup", pickup_point="PP-MI-12"))
    place.choose("RPCHANGED", Choice(kind="slot", day=WEDNESDAY, window="14:00-18:00"))
    place.missed("RPTURIN", depot="TO01")
    place.choose("RPTURIN", Choice(kind="slot", day=TUESDAY, window="09:00-13:00"))
    return place


def test_each_kind_is_listed_on_the_day_it_concerns_in_route_order(depot: Depot) -> None:
    assert depot.day(TUESDAY) == [
        ("RPNEIGHBOUR", "neighbour"),  # stop 2, its next attempt is Tuesday
        ("RPSLOT", "slot"),  # stop 5
        ("RPCALL", "callback"),  # stop 9
    ]
    # No attempt date: the safe place counts from the day it was chosen, like a dispute.
    assert depot.day(MONDAY) == [("RPDISPUTE", "dispute"), ("RPSAFE", "safe_place")]
    # The pickup was replaced by a Wednesday slot: only the current choice is listed.
    assert depot.day(WEDNESDAY) == [("RPCHANGED", "slot")]
    assert ("RPTURIN", "slot") in depot.day(TUESDAY, depot=None)
    assert depot.day(TUESDAY, depot="TO01") == [("RPTURIN", "slot")]
    assert depot.day(date(2026, 11, 26)) == []


def test_a_line_carries_what_the_depot_acts_on(depot: Depot) -> None:
    with read_transaction(depot.engine) as connection:
        lines = {
            line.tracking_number: line
            for line in depot_bookings(
                connection, day=TUESDAY, depot="MI01", settings=depot.settings
            )
        }
    neighbour = lines["RPNEIGHBOUR"]
    assert (neighbour.day, neighbour.window, neighbour.route_stop) == (TUESDAY, "10:00-14:00", 2)
    assert (neighbour.neighbour_name, neighbour.neighbour_door) == ("Rossi", "int. 4")
    assert (neighbour.recipient_name, neighbour.depot) == ("Giovanni Bianchi", "MI01")
    call = lines["RPCALL"]
    assert call.callback_due is not None
    assert call.callback_due.isoformat() == "2026-11-24T14:00:00+01:00"
    assert lines["RPSLOT"].window == "09:00-13:00"
    assert lines["RPSLOT"].callback_due is None


def test_the_cli_writes_csv_and_json_to_stdout(depot: Depot) -> None:
    env = {"NOTIFIER_DATABASE_URL": depot.settings.database.url, "NOTIFIER_CONFIG": None}
    args = ["bookings", "--date", "2026-11-24", "--depot", "MI01"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == FIELDS
    assert [(r["tracking_number"], r["kind"], r["route_stop"]) for r in rows] == [
        ("RPNEIGHBOUR", "neighbour", "2"),
        ("RPSLOT", "slot", "5"),
        ("RPCALL", "callback", "9"),
    ]
    assert rows[1]["day"] == "2026-11-24"
    assert rows[0]["instructions"] == ""  # unknown is empty, never "None"
    result = runner.invoke(app, [*args, "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [item["tracking_number"] for item in found] == ["RPNEIGHBOUR", "RPSLOT", "RPCALL"]
    assert found[2]["callback_due"] == "2026-11-24T14:00:00+01:00"
    assert found[0]["instructions"] is None


def test_the_cli_exits_0_on_an_empty_day_and_2_on_a_bad_format(depot: Depot) -> None:
    env = {"NOTIFIER_DATABASE_URL": depot.settings.database.url, "NOTIFIER_CONFIG": None}
    empty = runner.invoke(app, ["bookings", "--date", "2026-12-25", "--format", "json"], env=env)
    assert (empty.exit_code, json.loads(empty.stdout)) == (0, [])
    header = runner.invoke(app, ["bookings", "--date", "2026-12-25"], env=env)
    assert header.exit_code == 0
    assert header.stdout_bytes == (",".join(FIELDS) + "\r\n").encode()  # RFC 4180 line ends
    bad = runner.invoke(app, ["bookings", "--date", "2026-12-25", "--format", "xml"], env=env)
    assert bad.exit_code == 2


def test_typed_text_cannot_become_a_spreadsheet_formula(depot: Depot) -> None:
    with read_transaction(depot.engine) as connection:
        lines = depot_bookings(connection, day=MONDAY, depot="MI01", settings=depot.settings)
    rows = list(csv.DictReader(io.StringIO(build_csv(lines))))
    (safe,) = [r for r in rows if r["kind"] == "safe_place"]
    assert safe["instructions"] == "'=garage, a sinistra"


def test_the_ops_endpoint_is_behind_the_ops_password_and_never_cached(
    depot: Depot, make_client: ClientFactory
) -> None:
    client = make_client(depot.engine, env=OPS, pickup_points=[PICKUP])
    url = "/ops/bookings?date=2026-11-24&depot=MI01"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=basic("ops", "wrong")).status_code == 401
    answer = client.get(url, headers=basic("ops", "ops-secret"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["cache-control"] == "no-store"
    assert 'filename="bookings-2026-11-24-MI01.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["tracking_number"] for r in rows] == ["RPNEIGHBOUR", "RPSLOT", "RPCALL"]
    answer = client.get(url + "&format=json", headers=basic("ops", "ops-secret"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    assert [item["kind"] for item in answer.json()] == ["neighbour", "slot", "callback"]
    empty = client.get(
        "/ops/bookings?date=2026-12-25&format=json", headers=basic("ops", "ops-secret")
    )
    assert (empty.status_code, empty.json()) == (200, [])
    for bad in ("date=24/11/2026", "date=2026-11-24&format=xml", "date=2026-11-24&depot="):
        assert (
            client.get(f"/ops/bookings?{bad}", headers=basic("ops", "ops-secret")).status_code
            == 422
        )


def test_the_ops_endpoint_is_off_without_an_ops_password(
    depot: Depot, make_client: ClientFactory
) -> None:
    client = make_client(depot.engine, env={})
    assert client.get("/ops/bookings?date=2026-11-24").status_code == 503


GIOVANNI = {"name": "Giovanni Bianchi", "phone": "+39 333 123 4567", "postcode": "20121"}
SOLFERINO = {"line1": "Via Solferino 12", "line2": "Scala B, int. 4", "city": "Milano"}


@pytest.fixture
def reachable(depot: Depot) -> Depot:
    """Two Wednesday callbacks whose recipients gave an address; one address is a formula."""
    depot.missed("RPADDRESS", route_stop=7, recipient={**GIOVANNI, "address": SOLFERINO})
    depot.choose("RPADDRESS", Choice(kind="callback", day=WEDNESDAY, window="14:00-17:00"))
    formula = {"line1": '=HYPERLINK("https://evil.example","Via Roma 1")', "city": "Milano"}
    depot.missed(
        "RPFORMULA",
        route_stop=8,
        recipient={"name": "Anna Verdi", "phone": "+39 347 000 1111", "address": formula},
    )
    depot.choose("RPFORMULA", Choice(kind="callback", day=WEDNESDAY, window="14:00-17:00"))
    return depot


def test_a_newer_address_or_phone_replaces_the_stored_one_and_a_silent_event_keeps_it(
    reachable: Depot,
) -> None:
    moved = {"line1": "Corso Garibaldi 3", "city": "Milano"}
    # Newer: its address and phone win. Later still, with neither: both are kept.
    newer = {"phone": "+39 347 765 4321", "address": moved}
    reachable.update("RPADDRESS", "2026-11-23T09:40:00+01:00", recipient=newer)
    reachable.update(
        "RPADDRESS", "2026-11-23T09:50:00+01:00", recipient={"name": "Giovanni Bianchi"}
    )
    # Late (older than the stored status): it fills nothing that is already known; an
    # invalid phone is never the one to call.
    late = {"phone": "call me", "address": {"line1": "Via Vecchia 1"}}
    reachable.update("RPADDRESS", "2026-11-23T08:00:00+01:00", recipient=late)
    with read_transaction(reachable.engine) as connection:
        lines = depot_bookings(connection, day=WEDNESDAY, depot="MI01", settings=reachable.settings)
    (line,) = [line for line in lines if line.tracking_number == "RPADDRESS"]
    assert line.recipient_address == "Corso Garibaldi 3, Milano, 20121"
    assert line.recipient_phone == "+393477654321"


def test_phone_address_and_route_stop_are_in_the_csv_and_the_json(reachable: Depot) -> None:
    env = {"NOTIFIER_DATABASE_URL": reachable.settings.database.url, "NOTIFIER_CONFIG": None}
    args = ["bookings", "--date", "2026-11-25", "--depot", "MI01"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    rows = {r["tracking_number"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert list(rows) == ["RPCHANGED", "RPADDRESS", "RPFORMULA"]  # route order: 3, 7, 8
    found = rows["RPADDRESS"]
    assert (found["route_stop"], found["recipient_name"]) == ("7", "Giovanni Bianchi")
    assert found["recipient_address"] == "Via Solferino 12, Scala B, int. 4, Milano, 20121"
    # A spreadsheet reads neither the "+" nor the "=" as the start of a formula.
    assert found["recipient_phone"] == "'+393331234567"
    assert rows["RPFORMULA"]["recipient_address"] == (
        '\'=HYPERLINK("https://evil.example","Via Roma 1"), Milano'
    )
    assert rows["RPCHANGED"]["recipient_address"] == ""  # none given: empty, never "None"
    result = runner.invoke(app, [*args, "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    items = {item["tracking_number"]: item for item in json.loads(result.stdout)}
    assert items["RPADDRESS"]["recipient_phone"] == "+393331234567"
    assert items["RPADDRESS"]["route_stop"] == 7
    assert items["RPADDRESS"]["recipient_address"] == (
        "Via Solferino 12, Scala B, int. 4, Milano, 20121"
    )
    assert items["RPFORMULA"]["recipient_address"].startswith("=HYPERLINK(")  # JSON is data
    assert items["RPCHANGED"]["recipient_address"] is None


def test_the_ops_route_gives_phones_and_addresses_only_with_the_password(
    reachable: Depot, make_client: ClientFactory
) -> None:
    client = make_client(reachable.engine, env=OPS, pickup_points=[PICKUP])
    url = "/ops/bookings?date=2026-11-25&depot=MI01"
    for refused in (client.get(url), client.get(url + "&format=json", headers=basic("ops", "x"))):
        assert refused.status_code == 401
        assert "Solferino" not in refused.text
        assert "3331234567" not in refused.text
    answer = client.get(url + "&format=json", headers=basic("ops", "ops-secret"))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    (item,) = [i for i in answer.json() if i["tracking_number"] == "RPADDRESS"]
    assert (item["recipient_phone"], item["route_stop"]) == ("+393331234567", 7)
    assert item["recipient_address"] == "Via Solferino 12, Scala B, int. 4, Milano, 20121"
    answer = client.get(url, headers=basic("ops", "ops-secret"))
    rows = {r["tracking_number"]: r for r in csv.DictReader(io.StringIO(answer.text))}
    assert rows["RPADDRESS"]["recipient_phone"] == "'+393331234567"
    assert rows["RPFORMULA"]["recipient_address"].startswith("'=HYPERLINK(")
