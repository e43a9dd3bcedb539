"""The rating page on a 390 px phone in a real browser: axe-core on the question and on the
thanks, five large buttons in one row, no sideways scrolling, and a score sent with the
keyboard alone (Tab to a score, Enter): the plain form needs no script."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import FEEDBACK
from notifier.feedback.links import issue_links
from tests.browser.conftest import LiveSite
from tests.browser.test_unsubscribe_page import check_axe

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
TITLES = {"it": "Com'è andata la consegna?", "en": "How was your delivery?"}
THANKS = {"it": "Grazie per la sua risposta", "en": "Thank you for your answer"}


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    # The pages' CSP allows no script: the context bypasses it to inject axe-core.
    context = chromium.new_context(bypass_csp=True, **PHONE)
    yield context.new_page()
    context.close()


def rating_link(site: LiveSite, locale: str) -> tuple[int, str]:
    """A parcel's shipment id and its rating page's path, as its DELIVERED message gives it."""
    shipment = site.shipment_id(site.store(locale))
    with write_transaction(site.engine) as connection:
        tokens = issue_links(
            connection,
            {shipment: locale},
            key=site.settings.link_key,
            now=datetime.now(UTC),
            valid_for=timedelta(days=14),
        )
    return shipment, f"/f/{tokens[shipment]}"


def fits_a_phone(page: Any) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    buttons = page.locator("button[name=score]")
    assert buttons.count() == 5
    boxes = [buttons.nth(i).bounding_box() for i in range(5)]
    assert all(b is not None and b["height"] >= 44 and b["width"] >= 44 for b in boxes)
    assert len({round(b["y"]) for b in boxes if b is not None}) == 1  # one row


def tab_to(page: Any, score: str) -> None:
    """Tab until the score's button has the focus, as a keyboard user does."""
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => [document.activeElement.name, document.activeElement.value]")
        if focused == ["score", score]:
            return
    raise AssertionError(f"Tab never reached score {score}")


@pytest.mark.parametrize("lang", ["it", "en"])
def test_the_rating_page_on_a_phone_with_the_keyboard_alone(
    live_site: LiveSite, phone: Any, axe_script: Path, lang: str
) -> None:
    shipment, path = rating_link(live_site, lang)
    phone.goto(live_site.url(path))
    assert phone.locator("h1").inner_text() == TITLES[lang]
    assert phone.locator("html").get_attribute("lang") == lang
    check_axe(phone, axe_script)
    fits_a_phone(phone)

    phone.locator("#comment").fill("Corriere gentilissimo")
    tab_to(phone, "4")
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    assert phone.locator("h1").inner_text() == THANKS[lang]
    assert "4" in phone.locator("dd").nth(1).inner_text()
    check_axe(phone, axe_script)
    fits_a_phone(phone)  # the change form, while the day lasts
    with read_transaction(live_site.engine) as connection:
        query = select(FEEDBACK.c.score, FEEDBACK.c.comment).where(
            FEEDBACK.c.shipment_id == shipment
        )
        assert connection.execute(query).one() == (4, "Corriere gentilissimo")


def test_a_bad_form_shows_its_errors_accessibly(
    live_site: LiveSite, phone: Any, axe_script: Path
) -> None:
    _, path = rating_link(live_site, "it")
    phone.goto(live_site.url(path))
    # A form sent with no score (a keyboard Enter in no button's place): the page says so.
    phone.evaluate("() => document.querySelector('form').submit()")
    phone.wait_for_load_state()
    assert "Voto: tocchi un voto da 1 a 5." in phone.locator(".errors").inner_text()
    check_axe(phone, axe_script)
    fits_a_phone(phone)
