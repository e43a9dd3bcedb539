"""The rebooking flow in a real browser: from the slip's QR code to the confirmation, with
axe-core, the keyboard alone, JavaScript off and a phone-sized screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from sqlalchemy import select

from notifier.db.engine import read_transaction
from notifier.db.tables import OUTBOX, REBOOKINGS, SHIPMENTS
from notifier.rebooking import links
from notifier.slips.pdf import render_slips_pdf
from notifier.slips.store import shipment_slip
from tests.browser.conftest import LiveSite
from tests.pdftools import need_tools, qr_codes

pytestmark = pytest.mark.slow

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
OPTIONS = ["slot", "pickup", "neighbour", "safe_place", "callback", "dispute"]
WORDS = {
    "it": {"slot": "Un altro giorno e orario", "confirm": "Conferma", "done": "Fatto"},
    "en": {"slot": "Another day and time", "confirm": "Confirm", "done": "Done"},
}
FREE_SLOT = "input[name=slot]:not([disabled])"


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def slip_url(site: LiveSite, tracking: str, tmp_path: Path) -> str:
    """What a phone reads from the parcel's printed slip."""
    need_tools()
    now = datetime.now(UTC)
    with read_transaction(site.engine) as connection:
        key = site.settings.link_key
        slip = shipment_slip(connection, tracking, key=key, settings=site.settings, now=now)
    assert slip is not None
    pdf = tmp_path / "slip.pdf"
    pdf.write_bytes(render_slips_pdf([slip], settings=site.settings, layout="a6", now=now))
    ((url,),) = qr_codes(pdf)
    return url


def booking(site: LiveSite, tracking: str) -> Any:
    with read_transaction(site.engine) as connection:
        query = select(REBOOKINGS).where(
            REBOOKINGS.c.shipment_id == site.shipment_id(tracking),
            REBOOKINGS.c.replaced_at.is_(None),
        )
        return connection.execute(query).one()


def confirmations(site: LiveSite, tracking: str) -> list[Any]:
    with read_transaction(site.engine) as connection:
        query = select(OUTBOX).where(
            OUTBOX.c.shipment_id == site.shipment_id(tracking),
            OUTBOX.c.purpose == "rebooking_confirmed",
        )
        return list(connection.execute(query))


def assert_slot_booked(site: LiveSite, page: Any, tracking: str, value: str, lang: str) -> None:
    """The confirmation page names the chosen window, stored once and confirmed once."""
    day, window = value.split("|")
    assert "/done" in page.url
    choice = page.locator("section.choice").inner_text()
    label = format_date(date.fromisoformat(day), "EEEE d MMMM", locale=lang)
    assert label in choice
    assert window.replace("-", "–") in choice
    assert WORDS[lang]["done"] in page.locator("h1").inner_text()
    row = booking(site, tracking)
    assert (row.kind, str(row.day), row.window, row.locale) == ("slot", day, window, lang)
    (message,) = confirmations(site, tracking)
    assert (message.purpose, message.rebooking_id) == ("rebooking_confirmed", row.id)
    assert message.locale == lang


@pytest.mark.parametrize("lang", ["it", "en"])
def test_a_slip_qr_code_books_another_slot_in_the_recipients_language(
    live_site: LiveSite, page: Any, tmp_path: Path, lang: str
) -> None:
    tracking = live_site.store(lang)
    url = slip_url(live_site, tracking, tmp_path)
    assert url.startswith(live_site.url("/r/"))

    page.goto(url)
    assert page.locator("html").get_attribute("lang") == lang
    page.get_by_role("link", name=WORDS[lang]["slot"]).click()
    first_free = page.locator(FREE_SLOT).first
    value = first_free.get_attribute("value")
    first_free.check()
    page.get_by_role("button", name=WORDS[lang]["confirm"]).click()
    page.wait_for_url("**/done?lang=*")

    assert_slot_booked(live_site, page, tracking, value, lang)


# Accessibility: axe-core in the page. The pages' CSP allows no script at all, so these
# contexts bypass it to inject axe (the CSP itself is tested in test_rebook_pages).


@pytest.fixture
def axe_page(chromium: Any, axe_script: Path) -> Iterator[Any]:
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()

    def check() -> None:
        page.add_script_tag(path=str(axe_script))
        result = page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            WCAG_TAGS,
        )
        # An empty page, or axe not running at all, would pass too: make sure it looked.
        assert "color-contrast" in {rule["id"] for rule in result["passes"]}, page.url
        found = [
            f"{v['id']} ({v['impact']}): {v['help']}\n"
            + "\n".join(f"    {n['target']}: {n.get('failureSummary', '')}" for n in v["nodes"])
            for v in result["violations"]
        ]
        assert not found, f"axe-core on {page.url}:\n" + "\n".join(found)

    page.check_axe = check
    yield page
    context.close()


@pytest.fixture(scope="module")
def axe_token(live_site: LiveSite) -> str:
    """A parcel nobody books: its pages stay as a first visit sees them."""
    return live_site.token(live_site.store("it"))


@pytest.mark.parametrize("lang", ["it", "en"])
def test_the_option_list_has_no_axe_violations(
    live_site: LiveSite, axe_page: Any, axe_token: str, lang: str
) -> None:
    axe_page.goto(live_site.url(f"/r/{axe_token}?lang={lang}"))
    axe_page.check_axe()


@pytest.mark.parametrize("option", OPTIONS)
def test_each_options_form_has_no_axe_violations(
    live_site: LiveSite, axe_page: Any, axe_token: str, option: str
) -> None:
    axe_page.goto(live_site.url(f"/r/{axe_token}/{option}"))
    assert axe_page.locator("form button[type=submit]").count() == 1
    axe_page.check_axe()


def tracking_of(site: LiveSite, token: str) -> str:
    now = datetime.now(UTC)
    key = site.settings.link_key
    with read_transaction(site.engine) as connection:
        link = links.resolve_token(connection, token, key=key, settings=site.settings, now=now)
        assert link is not None
        query = select(SHIPMENTS.c.tracking_number).where(SHIPMENTS.c.id == link.shipment_id)
        return str(connection.execute(query).scalar_one())


def test_forms_in_error_have_no_axe_violations(
    live_site: LiveSite, axe_page: Any, axe_token: str
) -> None:
    axe_page.goto(live_site.url(f"/r/{axe_token}/neighbour"))
    axe_page.get_by_role("button", name="Conferma").click()
    axe_page.wait_for_load_state()
    assert axe_page.locator(".errors").count() == 1
    assert axe_page.locator("#neighbour_name").get_attribute("aria-invalid") == "true"
    axe_page.check_axe()

    axe_page.goto(live_site.url(f"/r/{axe_token}/safe_place"))
    axe_page.locator("#instructions").fill("Nel cortile, dietro il cancello")
    axe_page.get_by_role("button", name="Conferma").click()
    axe_page.wait_for_load_state()
    assert axe_page.locator("#accept").get_attribute("aria-invalid") == "true"
    axe_page.check_axe()

    assert confirmations(live_site, tracking_of(live_site, axe_token)) == []


def test_the_confirmation_page_has_no_axe_violations(live_site: LiveSite, axe_page: Any) -> None:
    token = live_site.token(live_site.store("it"))
    axe_page.goto(live_site.url(f"/r/{token}/neighbour"))
    axe_page.get_by_label("Nome del vicino").fill("Rossi")
    axe_page.get_by_role("button", name="Conferma").click()
    axe_page.wait_for_url("**/done?lang=*")
    assert "Rossi" in axe_page.locator("section.choice").inner_text()
    axe_page.check_axe()


@pytest.mark.parametrize("path", ["/r/notatoken", "/r"], ids=["bad-token", "short-code"])
def test_the_bad_link_and_short_code_pages_have_no_axe_violations(
    live_site: LiveSite, axe_page: Any, path: str
) -> None:
    axe_page.goto(live_site.url(path))
    axe_page.check_axe()


# Other ways in: the keyboard alone, no JavaScript, a phone.


def focused(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            "() => { const e = document.activeElement;"
            " return {tag: e.tagName, href: e.getAttribute('href'), name: e.getAttribute('name'),"
            " type: e.getAttribute('type'), disabled: e.disabled === true, value: e.value}; }"
        )
    )


def tab_to(page: Any, wanted: Any, what: str, limit: int = 60) -> dict[str, Any]:
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if wanted(element):
            return element
    raise AssertionError(f"{what} not reached in {limit} presses of Tab")


def test_the_slot_flow_completes_with_the_keyboard_alone(live_site: LiveSite, page: Any) -> None:
    tracking = live_site.store("it")
    page.goto(live_site.url(f"/r/{live_site.token(tracking)}"))

    tab_to(page, lambda e: (e["href"] or "").split("?")[0].endswith("/slot"), "the slot option")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    radio = tab_to(page, lambda e: e["name"] == "slot", "a window")
    assert not radio["disabled"]
    page.keyboard.press("Space")
    assert page.locator(f"input[name=slot][value='{radio['value']}']").is_checked()
    tab_to(page, lambda e: e["tag"] == "BUTTON" and e["type"] == "submit", "Conferma")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url("**/done?lang=*")

    assert_slot_booked(live_site, page, tracking, radio["value"], "it")


def test_the_slot_flow_completes_without_javascript(live_site: LiveSite, chromium: Any) -> None:
    tracking = live_site.store("it")
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_site.url(f"/r/{live_site.token(tracking)}"))
        page.get_by_role("link", name=WORDS["it"]["slot"]).click()
        first_free = page.locator(FREE_SLOT).first
        value = first_free.get_attribute("value")
        page.locator(f"label[for='{first_free.get_attribute('id')}']").click()
        page.get_by_role("button", name="Conferma").click()
        page.wait_for_url("**/done?lang=*")
        assert_slot_booked(live_site, page, tracking, value, "it")
    finally:
        context.close()


def test_touch_targets_on_a_phone_are_at_least_44_px_high(
    live_site: LiveSite, chromium: Any, axe_token: str
) -> None:
    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        small: list[str] = []

        def measure(selector: str) -> None:
            boxes = page.locator(selector)
            assert boxes.count() > 0, f"nothing matches {selector} on {page.url}"
            for i in range(boxes.count()):
                box = boxes.nth(i).bounding_box()
                assert box is not None
                if box["height"] < 44 or box["width"] < 44:
                    text = boxes.nth(i).inner_text().strip().splitlines()[0]
                    small.append(f"{page.url} {selector} {text!r}: {box['width']}x{box['height']}")

        page.goto(live_site.url(f"/r/{axe_token}"))
        measure(".options a")
        measure(".langs a")
        page.goto(live_site.url(f"/r/{axe_token}/slot"))
        measure(".choice-row label")
        measure("form button")
        assert not small, "touch targets under 44 px:\n" + "\n".join(small)
        # A phone-wide page scrolls only down, never sideways.
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360
    finally:
        context.close()
