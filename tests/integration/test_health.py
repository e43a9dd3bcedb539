"""GET /healthz and the landing page: what ops and a browser see of a running service."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.scheduler import build_scheduler
from notifier.web.app import create_app
from tests.conftest import make_settings
from tests.integration.conftest import ClientFactory, free_port, wait_until

HEAD = schema.head_revision()


def test_healthz_is_ok_on_a_migrated_database(engine: Engine, make_client: ClientFactory) -> None:
    response = make_client(engine).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "schema": {"current": HEAD, "required": HEAD, "up_to_date": True},
    }


def test_healthz_is_503_on_an_unmigrated_database(
    database_url: str, make_client: ClientFactory
) -> None:
    engine = make_engine(database_url)
    try:
        response = make_client(engine).get("/healthz")
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unhealthy",
        "database": "ok",
        "schema": {"current": None, "required": HEAD, "up_to_date": False},
    }


def test_healthz_follows_the_schema_as_it_is_upgraded(
    sqlite_url: str, make_client: ClientFactory
) -> None:
    engine = make_engine(sqlite_url)
    schema.upgrade(engine, "0001")
    client = make_client(engine)
    behind = client.get("/healthz")
    assert behind.status_code == 503
    assert behind.json()["schema"] == {"current": "0001", "required": HEAD, "up_to_date": False}
    schema.upgrade(engine)
    assert client.get("/healthz").status_code == 200
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(lambda _: f"postgresql://postgres@127.0.0.1:{free_port()}/x", id="postgres"),
        pytest.param(lambda tmp: f"sqlite:///{tmp / 'missing' / 'notifier.db'}", id="sqlite"),
    ],
)
def test_healthz_is_503_when_the_database_is_unreachable(
    url: Callable[[Path], str], tmp_path: Path, make_client: ClientFactory
) -> None:
    engine = make_engine(url(tmp_path))
    try:
        response = make_client(engine).get("/healthz")
    finally:
        engine.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"].startswith("unreachable: ")
    assert body["schema"] == {"current": None, "required": HEAD, "up_to_date": False}


def test_the_scheduler_starts_and_stops_with_the_app_and_healthz_reports_its_ticks(
    engine: Engine,
) -> None:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    scheduler = build_scheduler(settings, engine)
    before = datetime.now(UTC)
    with TestClient(create_app(settings, engine=engine, scheduler=scheduler)) as client:
        assert scheduler.running
        # The heartbeat runs at start and then every few seconds: wait for the first.
        wait_until(lambda: scheduler.health.ticks >= 1, what="the scheduler's first tick")
        response = client.get("/healthz")
        assert response.status_code == 200
        reported = response.json()["scheduler"]
        assert reported["running"] is True
        assert reported["ticks"] >= 1
        last_tick = datetime.fromisoformat(reported["last_tick"])
        assert before <= last_tick <= datetime.now(UTC)
    assert not scheduler.running


def test_healthz_is_503_when_the_scheduler_is_not_running(sqlite_engine: Engine) -> None:
    settings = make_settings(sqlite_engine.url.render_as_string(hide_password=False))
    scheduler = build_scheduler(settings, sqlite_engine)
    # Without `with`, TestClient runs no lifespan: the scheduler is never started.
    client = TestClient(create_app(settings, engine=sqlite_engine, scheduler=scheduler))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "ok"
    assert body["scheduler"] == {"running": False, "last_tick": None, "ticks": 0}


# The landing page: company details, and nothing loaded from anywhere else.

REFERENCE = re.compile(r"""(?:href|src|action)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)""")


def references(text: str) -> list[str]:
    return [html.unescape(a or b) for a, b in REFERENCE.findall(text)]


def test_the_landing_page_shows_the_company_and_its_phone(
    sqlite_engine: Engine, make_client: ClientFactory
) -> None:
    page = make_client(sqlite_engine).get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="it">' in page.text
    assert "<title>Rapido Consegne</title>" in page.text
    assert "<h1>Rapido Consegne</h1>" in page.text
    assert '<a href="tel:+390212345678">+39 02 1234 5678</a>' in page.text
    assert "lun–ven 08:00–20:00" in page.text


def test_the_pages_load_nothing_from_other_hosts(
    sqlite_engine: Engine, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_engine)
    page = client.get("/")
    css = client.get("/static/notifier.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "body" in css.text
    assert "/static/notifier.css" in references(page.text)
    for text in (page.text, css.text):
        for external in ("http://", "https://", "//cdn", "@import"):
            assert external not in text
        for reference in references(text):
            if reference.startswith(("tel:", "mailto:", "#")):
                continue
            assert re.match(r"/(?!/)", reference), f"not a path on this server: {reference}"
            assert client.get(reference).status_code == 200, reference


# /docs is ours, every asset local (test_openapi_document.py); FastAPI's other CDN pages
# stay off.
@pytest.mark.parametrize("path", ["/redoc", "/docs/oauth2-redirect"])
def test_fastapis_cdn_docs_pages_are_off(
    sqlite_engine: Engine, make_client: ClientFactory, path: str
) -> None:
    assert make_client(sqlite_engine).get(path).status_code == 404
