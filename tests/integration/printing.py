"""A depot on the example configuration, for slips printed before the fact (route packs,
final notices): parcels stored through ingest today (the real clock: the commands and
pages read it), the CLI, the web app, and what a scanned link opens."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from notifier.cli import app
from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.db.engine import read_transaction
from notifier.db.tables import LINKS, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming, Outcome
from notifier.rebooking import links
from notifier.web.app import create_app
from tests.conftest import REPO, TEST_SECRET_KEY

ROME = ZoneInfo("Europe/Rome")
EXAMPLE = REPO / "config.example.toml"
OPS_PASSWORD = "ops-secret"
# As long as real names get, in both languages' letters.
NAMES = (
    "Niccolò Bartolomeo Fiorentino-Sant'Angelo",
    "Maria Carmela Dell'Acqua-Ricciardi",
    "Anna-Lena Schönberger-Castellani",
)
SENDER = "Libreria Sant'Orsola di Giovanni Bartolomeo e Figli"
runner = CliRunner()


def tracking(n: int) -> str:
    return f"RP{n:09d}IT"


def grouped(number: str) -> str:
    """An S10 number as the slips print it: RP00 0000 001IT (fours, the country kept whole)."""
    assert len(number) == 13, f"not an S10 number: {number}"
    return f"{number[:4]} {number[4:8]} {number[8:]}"


class Depot:
    """MI01 of config.example.toml today, on a real database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.env = {
            "NOTIFIER_DATABASE_URL": self.url,
            "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
            "NOTIFIER_OPS_PASSWORD": OPS_PASSWORD,
        }
        self.settings: Settings = load_settings(EXAMPLE, self.env)
        self.now = datetime.now(UTC)
        self.today = self.now.astimezone(ROME).date()
        midnight = datetime.combine(self.today, time(0), tzinfo=ROME)
        # Halfway through today so far: today in Rome even a minute after midnight.
        self.earlier = midnight + (self.now - midnight) / 2
        self.yesterday = midnight - timedelta(hours=3)
        self.counter = 0

    def event(self, number: int, status: str, **facts: Any) -> dict[str, Any]:
        """An event of parcel `number`; `at` is when (default: earlier today)."""
        self.counter += 1
        moment: datetime = facts.pop("at", self.earlier)
        locale = facts.pop("locale", "it")
        return {
            "event_id": f"e{self.counter}",
            "tracking_number": tracking(number),
            "status": status,
            "occurred_at": moment.isoformat(),
            "depot": "MI01",
            "recipient": {
                "name": NAMES[number % len(NAMES)],
                "phone": "+39 333 123 4567",
                "locale": locale,
            },
            "sender": {"name": SENDER},
            **facts,
        }

    def store(self, *events: dict[str, Any]) -> None:
        items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
        results = list(ingest(self.engine, items, settings=self.settings, now=lambda: self.now))
        assert all(r.outcome is Outcome.STORED for r in results), results

    def cli(self, *args: str | Path) -> Result:
        command = [str(arg) for arg in args]
        return runner.invoke(app, [*command, "--config", str(EXAMPLE)], env=self.env)

    @contextmanager
    def client(self) -> Iterator[TestClient]:
        # The web at the moment the parcels were stored: a page read twice reads the same
        # (the dashboard says how long ago the oldest message fell due).
        app = create_app(self.settings, engine=self.engine, clock=lambda: self.now)
        with TestClient(app) as client:
            yield client

    def live_urls(self) -> dict[str, str]:
        """Each parcel's live link, by tracking number."""
        with read_transaction(self.engine) as connection:
            query = select(SHIPMENTS.c.id, SHIPMENTS.c.tracking_number)
            ids = {row.id: row.tracking_number for row in connection.execute(query)}
            live = links.live_links(
                connection, ids, key=self.settings.link_key, settings=self.settings, now=self.now
            )
        return {ids[shipment]: link.url for shipment, link in live.items()}

    def live_count(self) -> dict[str, int]:
        """How many live links each parcel has: never more than one."""
        with read_transaction(self.engine) as connection:
            query = (
                select(SHIPMENTS.c.tracking_number, func.count(LINKS.c.id))
                .join(LINKS, LINKS.c.shipment_id == SHIPMENTS.c.id)
                .where(links.live(self.now))
                .group_by(SHIPMENTS.c.tracking_number)
            )
            return {number: count for number, count in connection.execute(query)}

    def link_rows(self) -> int:
        with read_transaction(self.engine) as connection:
            return int(connection.execute(select(func.count()).select_from(LINKS)).scalar_one())

    def expires_at(self, url: str) -> datetime:
        token = self.token(url)
        with read_transaction(self.engine) as connection:
            link = links.resolve_token(
                connection, token, key=self.settings.link_key, settings=self.settings, now=self.now
            )
        assert link is not None, url
        return link.expires_at

    def token(self, url: str) -> str:
        base = str(self.settings.company.rebooking_base_url)
        assert url.startswith(base), url
        return url.removeprefix(base)

    def day_after(self, days: int) -> date:
        return self.today + timedelta(days=days)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


OPS = basic("ops", OPS_PASSWORD)
