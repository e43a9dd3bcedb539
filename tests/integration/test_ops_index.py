"""GET /ops: the day's printing per depot, with counts that match the PDFs behind its links,
"nothing to print" for an empty download, other days, and its refusals."""

from __future__ import annotations

import logging
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.db.engine import make_engine
from notifier.ops.promises import day_text
from notifier.web.app import create_app
from tests.conftest import make_settings
from tests.integration.printing import OPS, OPS_PASSWORD, Depot, basic
from tests.pdftools import need_tools, page_count, qr_codes


@pytest.fixture
def depot(engine: Engine) -> Depot:
    need_tools()
    return Depot(engine)


class _Page(HTMLParser):
    """A page's tags and its text, as a screen reader would come to them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.words: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.skipping += tag in ("title", "style", "script")

    def handle_endtag(self, tag: str) -> None:
        self.skipping -= tag in ("title", "style", "script")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.words.extend(data.split())

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def links(self, start: str = "/ops") -> list[str]:
        return [str(a["href"]) for t, a in self.tags if t == "a" and a["href"].startswith(start)]

    def link(self, rel: str) -> str:
        [href] = [str(a["href"]) for t, a in self.tags if t == "a" and a.get("rel") == rel]
        return href


def parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def a_busy_day(depot: Depot) -> None:
    """Today at MI01: three parcels on the round, two missed deliveries, one final notice
    due; and what must stay out of each count."""
    held_until = depot.day_after(depot.settings.slips.final_notice_days).isoformat()
    depot.store(
        *(depot.event(n, "OUT_FOR_DELIVERY", route_stop=n) for n in (1, 2, 3)),
        *(depot.event(n, "DELIVERY_ATTEMPTED", reason="RECIPIENT_ABSENT") for n in (4, 5)),
        depot.event(6, "AVAILABLE_FOR_PICKUP", held_until=held_until, pickup_point="PP-MI-12"),
        depot.event(7, "OUT_FOR_DELIVERY", depot="TO01"),  # another depot's round
        depot.event(8, "OUT_FOR_DELIVERY", at=depot.yesterday),  # yesterday's round
        depot.event(9, "DELIVERY_ATTEMPTED", at=depot.yesterday, reason="RECIPIENT_ABSENT"),
        depot.event(10, "AVAILABLE_FOR_PICKUP", held_until=depot.day_after(9).isoformat()),
    )


def test_the_page_needs_the_ops_password(depot: Depot) -> None:
    with depot.client() as client:
        for refused in (
            client.get("/ops"),
            client.get("/ops", headers=basic("ops", "wrong")),
            client.get("/ops", headers={"Authorization": "Basic !!!"}),
        ):
            assert refused.status_code == 401
            assert "www-authenticate" in refused.headers
            assert "/ops/route-pack.pdf" not in refused.text


def test_the_counts_match_the_pdfs_behind_each_link(depot: Depot, tmp_path: Path) -> None:
    a_busy_day(depot)
    today = depot.today.isoformat()
    query = f"date={today}&depot=MI01"
    links_before = depot.link_rows()
    with depot.client() as client:
        answer = client.get("/ops", headers=OPS)  # today by default
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-store"
        assert depot.link_rows() == links_before  # counting issues no link
        page = parsed(answer.text)
        held = day_text(depot.day_after(3))
        for said in (
            f"Operations: {day_text(depot.today)} (today)",
            "MI01 · Deposito Milano Nord",
            "Route pack 3 parcels on the round",
            "Missed-delivery slips 2 missed deliveries open for rebooking",
            f"Final notices 1 parcel held until {held}",
        ):
            assert said in page.text, said
        assert "nothing to print" not in page.text
        downloads = {
            "/ops/route-pack.pdf": 3,
            "/ops/slips.pdf": 2,
            "/ops/final-notices.pdf": 1,
        }
        expected = [
            link
            for path in downloads
            for link in (f"{path}?{query}", f"{path}?{query}&layout=a4x4")
        ]
        other_pages = [f"/ops/bookings?{query}", f"/ops/callbacks?{query}"]
        assert page.links("/ops/") == [*expected, *other_pages]
        for path, count in downloads.items():
            one_each = client.get(f"{path}?{query}", headers=OPS)
            assert one_each.status_code == 200, path
            assert one_each.headers["content-type"] == "application/pdf", path
            pdf = tmp_path / "a6.pdf"
            pdf.write_bytes(one_each.content)
            assert page_count(pdf) == count, path
            sheet = client.get(f"{path}?{query}&layout=a4x4", headers=OPS)
            assert sheet.status_code == 200, path
            pdf.write_bytes(sheet.content)
            assert page_count(pdf) == 1, path
            on_the_sheet = qr_codes(pdf, dpi=100, cells=(2, 2))
            assert sum(len(codes) for codes in on_the_sheet) == count, path
        bookings = client.get(other_pages[0], headers=OPS)
        assert bookings.status_code == 200
        assert bookings.headers["content-type"].startswith("text/csv")
        callbacks = client.get(other_pages[1], headers=OPS)
        assert callbacks.status_code == 200
        assert callbacks.headers["content-type"].startswith("text/html")
        # Printing changes no count: the page says the same after.
        again = parsed(client.get(f"/ops?date={today}", headers=OPS).text)
        assert again.text == page.text


def test_a_zero_says_nothing_to_print_and_links_no_pdf(depot: Depot) -> None:
    depot.store(depot.event(1, "OUT_FOR_DELIVERY", route_stop=1))
    query = f"date={depot.today.isoformat()}&depot=MI01"
    with depot.client() as client:
        answer = client.get(f"/ops?date={depot.today.isoformat()}", headers=OPS)
    assert answer.status_code == 200
    page = parsed(answer.text)
    assert "Route pack 1 parcel on the round" in page.text
    assert "0 missed deliveries open for rebooking: nothing to print" in page.text
    assert "0 parcels held until" in page.text
    assert page.text.count("nothing to print") == 2
    assert page.links("/ops/") == [
        f"/ops/route-pack.pdf?{query}",
        f"/ops/route-pack.pdf?{query}&layout=a4x4",
        f"/ops/bookings?{query}",
        f"/ops/callbacks?{query}",
    ]


@pytest.mark.parametrize("bad", ["22/11/2026", "2026-02-30", "tomorrow", "2026-11-2"])
def test_a_bad_date_is_a_422_naming_the_field(depot: Depot, bad: str) -> None:
    with depot.client() as client:
        answer = client.get("/ops", params={"date": bad}, headers=OPS)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    page = parsed(answer.text)
    assert "date: needs a day as YYYY-MM-DD" in page.text
    assert page.links("/ops/") == []
    # The form keeps what was typed, marked, to put right; the other days move from today.
    [field] = [a for t, a in page.tags if t == "input" and a.get("name") == "date"]
    assert (field["value"], field["aria-invalid"]) == (bad, "true")
    assert page.link("next") == f"/ops?date={depot.day_after(1).isoformat()}"


def test_previous_and_next_move_the_day(depot: Depot) -> None:
    depot.store(depot.event(1, "OUT_FOR_DELIVERY", at=depot.yesterday, route_stop=1))
    yesterday = depot.day_after(-1)
    with depot.client() as client:
        today_page = parsed(client.get("/ops", headers=OPS).text)
        assert "Route pack 0 parcels on the round: nothing to print" in today_page.text
        assert "Today," not in today_page.text  # no link to the day shown
        assert today_page.link("next") == f"/ops?date={depot.day_after(1).isoformat()}"
        before = parsed(client.get(today_page.link("prev"), headers=OPS).text)
        assert f"Operations: {day_text(yesterday)} ← " in before.text  # not "(today)"
        assert "Route pack 1 parcel on the round" in before.text
        assert f"/ops/route-pack.pdf?date={yesterday.isoformat()}&depot=MI01" in before.links()
        assert before.link("prev") == f"/ops?date={depot.day_after(-2).isoformat()}"
        assert f"Today, {day_text(depot.today)}" in before.text
        back = parsed(client.get(before.link("next"), headers=OPS).text)
        assert back.text == today_page.text


def test_the_page_is_plain_english_html_with_labelled_fields_and_nothing_external(
    depot: Depot,
) -> None:
    with depot.client() as client:
        answer = client.get("/ops", headers=OPS)
    page = parsed(answer.text)
    assert ("html", {"lang": "en"}) in page.tags
    assert [t for t, _ in page.tags].count("h1") == 1
    assert not [t for t, _ in page.tags if t in ("script", "img", "iframe")]
    assert not [a for _, a in page.tags if (a.get("src") or a.get("href") or "").startswith("http")]
    [form] = [a for t, a in page.tags if t == "form"]
    assert (form["method"], form["action"]) == ("get", "/ops")
    labelled = {a["for"] for t, a in page.tags if t == "label"}
    fields = [a for t, a in page.tags if t == "input"]
    assert fields
    assert all(a["id"] in labelled for a in fields)


def test_with_the_database_down_it_is_503_with_retry_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'notifier.db'}")
    settings = make_settings(str(engine.url), env={"NOTIFIER_OPS_PASSWORD": OPS_PASSWORD})
    try:
        with (
            TestClient(create_app(settings, engine=engine)) as client,
            caplog.at_level(logging.DEBUG),
        ):
            answer = client.get("/ops?date=2026-11-24", headers=OPS)
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0
    assert answer.headers["cache-control"] == "no-store"
    page = parsed(answer.text)
    assert "The database is not answering" in page.text
    assert page.links("/ops/") == []
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("notifier"))
    assert "ops: counts not read, database unavailable (OperationalError)" in logged
    assert "missing" not in logged


def test_without_an_ops_password_the_page_is_off(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with TestClient(create_app(make_settings(sqlite_url), engine=engine)) as client:
            answer = client.get("/ops", headers=OPS)
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert "NOTIFIER_OPS_PASSWORD" in answer.json()["error"]
