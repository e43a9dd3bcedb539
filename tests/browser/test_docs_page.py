"""/docs in a real browser under the site's CSP (no bypass): Swagger UI renders the
operations from /openapi.json, asks no other origin for anything, and breaks no policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import LiveSite

pytestmark = pytest.mark.slow


@pytest.fixture
def docs(chromium: Any, live_site: LiveSite) -> Iterator[tuple[Any, list[str], list[str]]]:
    """The docs page, with every URL the page asked for and every console error it logged."""
    context = chromium.new_context()
    page = context.new_page()
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else 0)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.goto(live_site.url("/docs"))
    page.locator(".opblock").first.wait_for(timeout=15_000)
    yield page, requested, errors
    context.close()


def test_docs_list_every_operation(docs: tuple[Any, list[str], list[str]]) -> None:
    page, _, _ = docs
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    shown = {path.replace("\u200b", "").strip() for path in paths}
    assert "/api/v1/events" in shown
    assert "/api/v1/shipments/{tracking}/slip.zpl" in shown
    assert "/healthz" in shown
    assert page.locator(".opblock").count() >= 12
    # The security schemes came through: Swagger UI offers to authorise with them.
    assert page.locator("button.authorize").is_visible()


def test_an_operation_opens_with_its_body_and_errors(
    docs: tuple[Any, list[str], list[str]],
) -> None:
    page, _, errors = docs
    events = page.locator(".opblock-post", has_text="/api/v1/events").first
    events.locator(".opblock-summary").click()
    body = events.locator(".opblock-section-request-body")
    body.wait_for(timeout=5_000)
    assert "application/json" in body.inner_text()
    codes = set(events.locator(".responses-table .response-col_status").all_inner_texts())
    assert {"200", "400", "401", "413", "415", "422", "503"} <= {c.strip() for c in codes}
    assert errors == []


def test_nothing_from_another_origin_and_no_policy_broken(
    docs: tuple[Any, list[str], list[str]], live_site: LiveSite
) -> None:
    _page, requested, errors = docs
    elsewhere = [u for u in requested if not u.startswith(live_site.base_url + "/")]
    assert [u for u in elsewhere if not u.startswith("data:")] == []
    assert live_site.url("/openapi.json") in requested
    assert live_site.url("/docs/swagger-init.js") in requested
    # Chromium reports each refused load or script as a console error ("Refused to ...").
    assert errors == [], errors
