"""The ops start page on a depot's phone (390 px) in a real browser: axe-core on a day with
downloads and on a bad date, no sideways scrolling, 44 px links, and the day moving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.ops.promises import day_text
from notifier.web.app import create_app
from tests.browser.serving import served
from tests.browser.test_unsubscribe_page import check_axe
from tests.integration.conftest import free_port
from tests.integration.printing import OPS_PASSWORD, Depot

pytestmark = pytest.mark.slow

WIDTH = 390
PHONE = {"viewport": {"width": WIDTH, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Depot]]:
    """config.example.toml's MI01 today, served on a loopback port: a round, a missed
    delivery, no final notice."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ops') / 'notifier.db'}")
    schema.upgrade(engine)
    depot = Depot(engine)
    depot.store(
        depot.event(1, "OUT_FOR_DELIVERY", route_stop=1),
        depot.event(2, "OUT_FOR_DELIVERY", route_stop=2),
        depot.event(3, "DELIVERY_ATTEMPTED", reason="RECIPIENT_ABSENT"),
    )
    try:
        with served(create_app(depot.settings, engine=engine), free_port()) as base:
            yield base, depot
    finally:
        engine.dispose()


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    # The pages' CSP allows no script: the context bypasses it to inject axe-core.
    credentials = {"username": "ops", "password": OPS_PASSWORD}
    context = chromium.new_context(bypass_csp=True, http_credentials=credentials, **PHONE)
    yield context.new_page()
    context.close()


def fits_a_phone(page: Any) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= WIDTH
    targets = page.locator("main a, main button, main input")
    assert targets.count() > 0
    for index in range(targets.count()):
        box = targets.nth(index).bounding_box()
        assert box is not None
        assert box["height"] >= 44, targets.nth(index).inner_text()


def test_the_ops_page_on_a_phone(site: tuple[str, Depot], phone: Any, axe_script: Path) -> None:
    base, depot = site
    phone.goto(f"{base}/ops")
    assert phone.locator("h1").inner_text() == f"Operations: {day_text(depot.today)} (today)"
    assert phone.locator("a[href^='/ops/route-pack.pdf']").count() == 2
    assert phone.locator("a[href^='/ops/slips.pdf']").count() == 2
    assert phone.locator("a[href^='/ops/final-notices.pdf']").count() == 0
    check_axe(phone, axe_script)
    fits_a_phone(phone)

    phone.locator("a[rel='prev']").click()
    phone.wait_for_load_state()
    yesterday = depot.day_after(-1)
    assert phone.locator("h1").inner_text() == f"Operations: {day_text(yesterday)}"
    assert phone.locator("a[href*='.pdf']").count() == 0
    check_axe(phone, axe_script)
    fits_a_phone(phone)

    answer = phone.goto(f"{base}/ops?date=24/11/2026")
    assert answer.status == 422
    assert "date: needs a day" in phone.locator("[role=alert]").inner_text()
    check_axe(phone, axe_script)
    fits_a_phone(phone)
