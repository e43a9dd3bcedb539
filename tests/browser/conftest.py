"""Browser fixtures: the real app served by uvicorn on a loopback port, and headless chromium.

Playwright comes from PyPI but drives Debian's chromium (`apt-get install chromium`);
`playwright install` downloads a browser of its own and is never run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from notifier.config import Settings
from notifier.db import schema
from notifier.db.engine import make_engine, read_transaction
from notifier.db.tables import SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import links
from notifier.web.app import create_app
from notifier.web.guards import RateLimiter
from tests.browser.serving import served
from tests.conftest import BASE_CONFIG, REPO, make_settings, require
from tests.integration.conftest import free_port

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class LiveSite:
    """The real app on 127.0.0.1:{port}, its database, and missed deliveries stored in it."""

    def __init__(self, engine: Engine, settings: Settings, port: int) -> None:
        self.engine = engine
        self.settings = settings
        self.base_url = f"http://127.0.0.1:{port}"
        self.counter = 0

    def url(self, path: str) -> str:
        return self.base_url + path

    def store(self, locale: str) -> str:
        """A new parcel missed a few minutes ago (real clock); its tracking number."""
        self.counter += 1
        tracking = f"RP{self.counter:09d}IT"
        now = datetime.now(UTC)
        event = {
            "event_id": f"e-{tracking}",
            "tracking_number": tracking,
            "status": "DELIVERY_ATTEMPTED",
            "reason": "RECIPIENT_ABSENT",
            "occurred_at": (now - timedelta(minutes=5)).isoformat(),
            "depot": "MI01",
            "recipient": {
                "name": "Giovanni Bianchi",
                "phone": "+39 333 123 4567",
                "locale": locale,
            },
            "sender": {"name": "Libreria Sant'Orsola"},
        }
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: now))
        return tracking

    def shipment_id(self, tracking: str) -> int:
        with read_transaction(self.engine) as connection:
            query = select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == tracking)
            return int(connection.execute(query).scalar_one())

    def token(self, tracking: str) -> str:
        """The parcel's live link token, read from the database (no slip printed)."""
        shipment = self.shipment_id(tracking)
        with read_transaction(self.engine) as connection:
            key = self.settings.link_key
            live = links.live_links(
                connection, [shipment], key=key, settings=self.settings, now=datetime.now(UTC)
            )
        return live[shipment].token


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """One server per module on a migrated SQLite file of its own."""
    path = tmp_path_factory.mktemp("browser") / "notifier.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    schema.upgrade(engine)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    company = {**BASE_CONFIG["company"], "rebooking_base_url": f"{base}/r/"}
    settings = make_settings(url, company=company, web={"public_base_url": base})
    app = create_app(settings, engine=engine)
    # Every page of every test comes from 127.0.0.1: one household's per-client budget
    # is not what these tests are about (test_rebook_pages covers it).
    app.state.rebook_limits["client"] = RateLimiter(limit=100_000, window=60.0)
    try:
        with served(app, port):
            yield LiveSite(engine, settings, port)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's headless chromium under Playwright, shared by the session."""
    executable = shutil.which("chromium")
    if executable is None:
        require("chromium", "not on PATH: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require("playwright", "pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def axe_script() -> Path:
    if not AXE.is_file():
        require("axe-core", f"{AXE} not found: npm install --no-save axe-core")
    return AXE
