"""Every ops HTML page in a real browser, on a seeded week: axe-core (WCAG 2.2 AA) finds
nothing, Tab alone reaches every link and control in page order with a visible focus ring,
and a 390 px phone never scrolls sideways. The pages: the dashboard (all depots, one
depot, an unknown depot), the callbacks page (all, still to call, overdue)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.web.app import create_app
from tests.browser.serving import served
from tests.browser.test_unsubscribe_page import check_axe
from tests.integration.conftest import free_port
from tests.integration.printing import OPS_PASSWORD
from tests.integration.test_ops_dashboard import NOW, TODAY, Day, seed

pytestmark = pytest.mark.slow

PAGES = [
    "/ops",
    "/ops?depot=MI01",
    f"/ops?date={TODAY.isoformat()}&depot=XX99",  # 422: the form, saying what is wrong
    "/ops/callbacks",
    f"/ops/callbacks?date={TODAY.isoformat()}&due=1",
    "/ops/callbacks?overdue=1",
]

# What Tab should stop on, in document order: a radio group is one stop (its checked one).
_FOCUSABLE = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]')];
  return all.filter(e => e.tabIndex >= 0 && !e.disabled && e.offsetParent !== null)
    .filter(e => !(e.type === 'radio' && !e.checked &&
      document.querySelector(`input[type=radio][name="${e.name}"]:checked`)
      && e.form === document.querySelector(`input[type=radio][name="${e.name}"]:checked`).form))
    .map(e => e.outerHTML.slice(0, 120));
}"""
_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  return {html: e.outerHTML.slice(0, 120), outline: style.outlineStyle,
          width: parseFloat(style.outlineWidth)};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The seeded week of tests/integration/test_ops_dashboard.py, served on a loopback
    port with the clock at its Tuesday 11:30."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ops-axe') / 'notifier.db'}")
    schema.upgrade(engine)
    day = Day(engine)
    seed(day)
    app = create_app(day.settings, engine=engine, clock=lambda: NOW)
    try:
        with served(app, free_port()) as base:
            yield base
    finally:
        engine.dispose()


def _context(chromium: Any, width: int) -> Any:
    # The pages' CSP allows no script: the context bypasses it to inject axe-core.
    credentials = {"username": "ops", "password": OPS_PASSWORD}
    size = {"viewport": {"width": width, "height": 844 if width < 600 else 900}}
    return chromium.new_context(bypass_csp=True, http_credentials=credentials, **size)


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    context = _context(chromium, 390)
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(chromium: Any) -> Iterator[Any]:
    context = _context(chromium, 1280)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_nothing_and_a_phone_never_scrolls_sideways(
    site: str, phone: Any, desktop: Any, axe_script: Path, path: str
) -> None:
    for page in (phone, desktop):
        answer = page.goto(site + path)
        assert answer.status in (200, 422), path
        check_axe(page, axe_script)
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390, path


def test_the_dashboard_has_its_figures_charts_and_downloads(site: str, phone: Any) -> None:
    phone.goto(site + "/ops")
    assert phone.locator("h1").inner_text().startswith("Operations: ")
    assert phone.locator("svg.chart[role=img]").count() >= 5
    for chart in phone.locator("svg.chart").all():
        # Each chart is named by its title and told in words by its description.
        assert chart.locator("title").count() == 1
        assert chart.locator("desc").text_content()
    assert phone.locator("a[href^='/ops/route-pack.pdf']").count() == 2
    assert phone.locator("table.figures caption").count() >= 8


@pytest.mark.parametrize("path", PAGES)
def test_tab_alone_reaches_every_control_in_order_with_a_visible_focus(
    site: str, desktop: Any, path: str
) -> None:
    desktop.goto(site + path)
    expected = desktop.evaluate(_FOCUSABLE)
    assert expected, path
    reached = []
    for _ in expected:
        desktop.keyboard.press("Tab")
        focused = desktop.evaluate(_FOCUSED)
        assert focused is not None, (path, len(reached))
        # A ring of at least 2 px (notifier.css: 3 px solid), not the browser's thin one.
        assert focused["outline"] != "none", focused["html"]
        assert focused["width"] >= 2, focused["html"]
        reached.append(focused["html"])
    assert reached == expected, path
    # One more Tab leaves the page's controls: nothing is a trap.
    desktop.keyboard.press("Tab")
    assert desktop.evaluate(_FOCUSED) is None or desktop.evaluate(_FOCUSED)["html"] == expected[0]
