"""The unsubscribe page on a phone in a real browser: axe-core before and after the button,
a 44 px button, no sideways scrolling, and the button's plain form doing the one click."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import OPT_OUTS
from notifier.outbox import unsubscribe
from tests.browser.conftest import LiveSite

pytestmark = pytest.mark.slow

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    # The pages' CSP allows no script: the context bypasses it to inject axe-core.
    context = chromium.new_context(bypass_csp=True, **PHONE)
    yield context.new_page()
    context.close()


def check_axe(page: Any, axe_script: Path) -> None:
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_TAGS,
    )
    # An empty page, or axe not running at all, would pass too: make sure it looked.
    assert "color-contrast" in {rule["id"] for rule in result["passes"]}, page.url
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
    ]
    assert not found, f"axe-core on {page.url}:\n" + "\n".join(found)


def fits_a_phone(page: Any) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    box = page.locator("form button").bounding_box()
    assert box is not None
    assert box["height"] >= 44
    assert box["width"] >= 44


@pytest.mark.parametrize("lang", ["it", "en"])
def test_the_unsubscribe_page_on_a_phone(
    live_site: LiveSite, phone: Any, axe_script: Path, lang: str
) -> None:
    address = f"giovanni.{lang}@example.it"
    with write_transaction(live_site.engine) as connection:
        issued = unsubscribe.issue_tokens(
            connection, {address}, key=live_site.settings.link_key, now=datetime.now(UTC)
        )
    phone.goto(live_site.url(f"/u/{issued[address]}?lang={lang}"))
    assert phone.locator("form button").count() == 1
    check_axe(phone, axe_script)
    fits_a_phone(phone)

    phone.locator("form button").click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() in ("Iscrizione annullata", "You are unsubscribed")
    check_axe(phone, axe_script)
    fits_a_phone(phone)
    with read_transaction(live_site.engine) as connection:
        query = select(OPT_OUTS.c.channel).where(OPT_OUTS.c.address == address)
        assert list(connection.execute(query).scalars()) == ["email"]
