"""The template previews in a real browser, on a phone (390 px) and a desk (1280 px): axe-core
with no violations, the jump list and every section reached by keyboard alone, no sideways
scrolling on the phone, and the emails' own styles applied under the page's real policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.site import build_site
from tests.browser.serving import served
from tests.browser.test_unsubscribe_page import check_axe
from tests.integration.conftest import free_port
from tests.integration.printing import OPS_PASSWORD, Depot

pytestmark = pytest.mark.slow

SCREENS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desk": {"viewport": {"width": 1280, "height": 900}},
}
CREDENTIALS = {"username": "ops", "password": OPS_PASSWORD}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """build_site on config.example.toml, served on a loopback port, its page built once."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('gallery') / 'notifier.db'}")
    schema.upgrade(engine)
    app = build_site(Depot(engine).settings, engine=engine)
    try:
        with served(app, free_port()) as base:
            app.state.template_overview.get(app.state.settings)  # the first build takes seconds
            yield base
    finally:
        engine.dispose()


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest, chromium: Any) -> Iterator[tuple[str, Any]]:
    # The pages' CSP allows no script: the context bypasses it to inject axe-core.
    context = chromium.new_context(
        bypass_csp=True, http_credentials=CREDENTIALS, **SCREENS[request.param]
    )
    yield request.param, context.new_page()
    context.close()


def _active(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const e = document.activeElement;
              return {tag: e.tagName, href: e.getAttribute('href'),
                      nav: e.closest('nav') ? e.closest('nav').id : null,
                      section: e.closest('section') ? e.closest('section').id : null};
            }"""
        )
    )


def test_the_page_passes_axe_and_fits(site: str, screen: tuple[str, Any], axe_script: Path) -> None:
    name, page = screen
    assert page.goto(f"{site}/ops/templates").status == 200
    assert page.locator("h1").inner_text() == "Templates"
    assert page.locator("iframe.email").count() >= 20
    check_axe(page, axe_script)
    width = SCREENS[name]["viewport"]["width"]  # type: ignore[index]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width


def test_the_jump_list_and_every_section_by_keyboard(site: str, screen: tuple[str, Any]) -> None:
    _, page = screen
    url = f"{site}/ops/templates"
    page.goto(url)
    targets = page.locator("nav#jump a").evaluate_all("links => links.map(a => a.hash)")
    assert len(targets) >= 12
    for index, target in enumerate(targets):
        # Back to the list as if opened at #jump (fragment navigation sets where Tab
        # starts; the blur takes focus out of an email's iframe, which would keep the
        # keys): a reload per section would take seconds each.
        page.evaluate("() => { document.activeElement.blur(); location.hash = '#jump'; }")
        for _ in range(index + 1):
            page.keyboard.press("Tab")
        page.wait_for_function("() => document.activeElement.closest('nav#jump') !== null")
        focused = _active(page)
        assert focused["nav"] == "jump", focused
        assert focused["href"] == target
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        # Focus entering an iframe lands a moment after the key: wait for it, never sleep.
        page.wait_for_function(
            "id => document.activeElement.closest('section')?.id === id",
            arg=target.removeprefix("#"),
            timeout=5000,
        )
    # The last section holds only its way back: Enter on it, and Tab is in the list again.
    assert _active(page)["href"] == "#jump"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.wait_for_function("() => document.activeElement.closest('nav#jump') !== null")
    assert _active(page)["href"] == targets[0]


def test_an_email_keeps_its_own_styles_under_the_real_policy(site: str, chromium: Any) -> None:
    """The iframe's srcdoc inherits the page's policy: its style="" must still apply."""
    context = chromium.new_context(http_credentials=CREDENTIALS, **SCREENS["desk"])
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on(
            "console", lambda m: refused.append(m.text) if "Content Security" in m.text else None
        )
        page.goto(f"{site}/ops/templates#t-missed_delivery")
        frame = page.frame_locator("#t-missed_delivery iframe.email").first
        heading = frame.locator("h1")
        assert heading.evaluate("h => getComputedStyle(h).fontSize") == "24px"
        assert heading.evaluate("h => getComputedStyle(h).fontFamily").startswith("Arial")
        assert frame.locator("a").first.evaluate("a => getComputedStyle(a).color") == (
            "rgb(11, 79, 156)"
        )
        assert not refused, refused
    finally:
        context.close()
