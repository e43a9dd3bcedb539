"""A day's slips from the database: CLI and ops page, decoded back with zbar to live links."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from notifier.cli import app
from notifier.config import Settings
from notifier.db.engine import read_transaction
from notifier.db.tables import SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import links
from tests.conftest import make_settings
from tests.integration.conftest import ClientFactory
from tests.integration.printing import grouped as printed_grouping
from tests.pdftools import need_tools, page_count, page_text, qr_codes

ROME = ZoneInfo("Europe/Rome")
runner = CliRunner()
OPS = {"NOTIFIER_OPS_PASSWORD": "ops-secret"}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Day:
    """Missed deliveries stored today (the real clock: the commands read it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.settings: Settings = make_settings(self.url)
        self.now = datetime.now(UTC)
        self.today = self.now.astimezone(ROME).date()
        midnight = datetime.combine(self.today, time(0), tzinfo=ROME)
        # Halfway through today so far: today in Rome even a minute after midnight.
        self.attempted = midnight + (self.now - midnight) / 2
        self.delivered = self.attempted + (self.now - self.attempted) / 2
        self.yesterday = midnight - timedelta(hours=1)
        self.counter = 0

    def event(self, tracking: str, status: str, **facts: Any) -> dict[str, Any]:
        self.counter += 1
        moment = facts.pop("at", self.attempted)
        return {
            "event_id": f"e{self.counter}",
            "tracking_number": tracking,
            "status": status,
            "reason": "RECIPIENT_ABSENT" if status == "DELIVERY_ATTEMPTED" else None,
            "occurred_at": moment.isoformat(),
            "depot": "MI01",
            "recipient": {"name": f"Cliente {tracking}", "phone": "+39 333 123 4567"},
            **facts,
        }

    def store(self, *events: dict[str, Any]) -> None:
        cleaned = [{k: v for k, v in e.items() if v is not None} for e in events]
        items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(cleaned)]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: self.now))

    def urls(self) -> dict[str, str]:
        """The stored live link of each parcel, by tracking number."""
        key = self.settings.link_key
        with read_transaction(self.engine) as connection:
            query = select(SHIPMENTS.c.id, SHIPMENTS.c.tracking_number)
            ids = {row.id: row.tracking_number for row in connection.execute(query)}
            live = links.live_links(connection, ids, key=key, settings=self.settings, now=self.now)
        return {ids[shipment]: link.url for shipment, link in live.items()}

    def opens(self, url: str) -> str | None:
        """The tracking number of the parcel a scanned URL's token opens."""
        key = self.settings.link_key
        token = url.removeprefix(str(self.settings.company.rebooking_base_url))
        with read_transaction(self.engine) as connection:
            link = links.resolve_token(
                connection, token, key=key, settings=self.settings, now=self.now
            )
            if link is None:
                return None
            query = select(SHIPMENTS.c.tracking_number).where(SHIPMENTS.c.id == link.shipment_id)
            return str(connection.execute(query).scalar_one())


@pytest.fixture
def day(engine: Engine) -> Day:
    need_tools()
    return Day(engine)


def tracking(n: int) -> str:
    return f"RP{n:09d}IT"


def fifty_in_random_route_order(day: Day) -> list[str]:
    """50 attempts at MI01 with shuffled route stops; distractors that must not print."""
    stops = list(range(1, 51))
    random.Random(7).shuffle(stops)
    events = [
        day.event(tracking(n), "DELIVERY_ATTEMPTED", route_stop=stop)
        for n, stop in zip(range(1, 51), stops, strict=True)
    ]
    events.append(day.event(tracking(90), "DELIVERY_ATTEMPTED", depot="TO01"))  # other depot
    events.append(day.event(tracking(91), "DELIVERY_ATTEMPTED"))  # delivered since
    events.append(day.event(tracking(91), "DELIVERED", at=day.delivered))
    events.append(day.event(tracking(92), "DELIVERY_ATTEMPTED", at=day.yesterday))
    day.store(*events)
    by_stop = sorted(zip(stops, range(1, 51), strict=True))
    return [tracking(n) for _, n in by_stop]


def test_a_days_batch_prints_every_open_missed_delivery_in_route_order(
    day: Day, tmp_path: Path
) -> None:
    expected = fifty_in_random_route_order(day)
    pdf = tmp_path / "slips.pdf"
    env = {"NOTIFIER_DATABASE_URL": day.url}
    args = ["slips", "--date", day.today.isoformat(), "--depot", "MI01", "-o", str(pdf)]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert page_count(pdf) == 50
    urls = day.urls()
    decoded = qr_codes(pdf)
    for page, (number, codes) in enumerate(zip(expected, decoded, strict=True), start=1):
        assert codes == [urls[number]], f"page {page}"
        # The token on the page opens that page's parcel.
        assert day.opens(codes[0]) == number, f"page {page}"
        grouped = printed_grouping(number)
        assert grouped in " ".join(page_text(pdf, page).split()), f"page {page}"


def test_the_same_batch_four_to_an_a4_sheet(day: Day, tmp_path: Path) -> None:
    fifty_in_random_route_order(day)
    pdf = tmp_path / "sheets.pdf"
    args = ["slips", "--date", day.today.isoformat(), "--depot", "MI01"]
    args += ["--layout", "a4x4", "-o", str(pdf)]
    result = runner.invoke(app, args, env={"NOTIFIER_DATABASE_URL": day.url})
    assert result.exit_code == 0, result.output
    assert page_count(pdf) == 13
    decoded = qr_codes(pdf, cells=(2, 2))
    assert sum(len(codes) for codes in decoded) == 50
    assert [len(codes) for codes in decoded] == [4] * 12 + [2]


def test_one_parcels_slip_and_the_tracking_number_as_people_type_it(
    day: Day, tmp_path: Path
) -> None:
    day.store(day.event(tracking(5), "DELIVERY_ATTEMPTED"))
    pdf = tmp_path / "one.pdf"
    env = {"NOTIFIER_DATABASE_URL": day.url}
    result = runner.invoke(app, ["slip", "rp00 0000 005it", "-o", str(pdf)], env=env)
    assert result.exit_code == 0, result.output
    assert page_count(pdf) == 1
    assert qr_codes(pdf) == [[day.urls()[tracking(5)]]]
    missing = runner.invoke(app, ["slip", "RP999IT", "-o", str(tmp_path / "x.pdf")], env=env)
    assert missing.exit_code == 1
    assert "no missed delivery" in missing.output
    assert not (tmp_path / "x.pdf").exists()


def test_a_parcel_delivered_since_its_attempt_gets_no_slip(day: Day, tmp_path: Path) -> None:
    # Two batches: the attempt's link stays live (its page says "delivered"), but a slip
    # inviting a rebooking would be wrong now.
    day.store(day.event(tracking(6), "DELIVERY_ATTEMPTED"))
    day.store(day.event(tracking(6), "DELIVERED", at=day.delivered))
    env = {"NOTIFIER_DATABASE_URL": day.url}
    one = runner.invoke(app, ["slip", tracking(6), "-o", str(tmp_path / "one.pdf")], env=env)
    args = ["slips", "--date", day.today.isoformat(), "-o", str(tmp_path / "day.pdf")]
    batch = runner.invoke(app, args, env=env)
    assert (one.exit_code, batch.exit_code) == (1, 1)
    assert "no missed delivery" in one.output
    assert tracking(6) in day.urls()  # the link itself still opens the parcel's page


def test_nothing_to_print_says_so(day: Day, tmp_path: Path) -> None:
    env = {"NOTIFIER_DATABASE_URL": day.url}
    args = ["slips", "--date", day.today.isoformat(), "-o", str(tmp_path / "none.pdf")]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 1
    assert "nothing to print" in result.output


def test_the_ops_page_serves_the_batch_behind_the_ops_password(
    day: Day, make_client: ClientFactory, tmp_path: Path
) -> None:
    day.store(
        day.event(tracking(1), "DELIVERY_ATTEMPTED", route_stop=2),
        day.event(tracking(2), "DELIVERY_ATTEMPTED", route_stop=1),
    )
    client = make_client(day.engine, env=OPS)
    url = f"/ops/slips.pdf?date={day.today.isoformat()}&depot=MI01"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=basic("ops", "wrong")).status_code == 401
    assert client.get(url, headers={"Authorization": "Basic !!!"}).status_code == 401
    answer = client.get(url, headers=basic("ops", "ops-secret"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["cache-control"] == "no-store"
    pdf = tmp_path / "ops.pdf"
    pdf.write_bytes(answer.content)
    urls = day.urls()
    assert qr_codes(pdf) == [[urls[tracking(2)]], [urls[tracking(1)]]]
    bad = client.get("/ops/slips.pdf?date=22/11/2026", headers=basic("ops", "ops-secret"))
    assert bad.status_code == 422
    assert "YYYY-MM-DD" in bad.json()["error"]
    none = client.get(url.replace("MI01", "ZZ99"), headers=basic("ops", "ops-secret"))
    assert none.status_code == 404


def test_the_ops_page_is_off_without_an_ops_password(day: Day, make_client: ClientFactory) -> None:
    client = make_client(day.engine, env={})
    answer = client.get(f"/ops/slips.pdf?date={day.today.isoformat()}")
    assert answer.status_code == 503
