"""The web edge: POST /api/v1/events, /healthz and the landing page, on real databases."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.db import make_engine
from notifier.models import ContactPoint, Shipment, StatusEvent
from notifier.web.app import create_app
from tests.conftest import EventFactory, make_settings

KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(
        url, env={"NOTIFIER_API_KEY": f"{KEY}, second-key"}, api={"max_body_bytes": 4096}
    )
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def post(client: TestClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/api/v1/events",
        content=json.dumps(body),
        headers={**AUTH, "Content-Type": "application/json", **(headers or {})},
    )


def rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(table)).mappings()]


def test_one_event_is_stored_then_recognised_as_a_duplicate(
    client: TestClient, engine: Engine, make_event: EventFactory
) -> None:
    event = make_event(status="OUT_FOR_DELIVERY")
    first = post(client, event)
    assert first.status_code == 200
    assert first.json()["stored"] == 1
    assert first.json()["results"] == [
        {"index": 0, "event_id": event["event_id"], "result": "stored"}
    ]
    again = post(client, event)
    assert again.json()["duplicates"] == 1
    assert [r["event_id"] for r in rows(engine, StatusEvent)] == [event["event_id"]]
    assert [r["status"] for r in rows(engine, Shipment)] == ["OUT_FOR_DELIVERY"]


def test_good_events_are_kept_beside_bad_ones_each_named(
    client: TestClient, engine: Engine, make_event: EventFactory
) -> None:
    good = make_event(tracking_number="RP1X")
    no_offset = make_event(occurred_at="2026-11-22T10:49:00")
    no_tracking = make_event(tracking_number=None)
    response = post(client, [good, no_offset, "not an event", no_tracking])
    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["rejected"]) == (1, 3)
    by_index = {r["index"]: r for r in body["results"]}
    assert by_index[0]["result"] == "stored"
    assert by_index[1]["errors"][0]["field"] == "occurred_at"
    assert "offset" in by_index[1]["errors"][0]["reason"]
    assert by_index[2]["errors"] == [{"field": "-", "reason": "expected a JSON object"}]
    assert by_index[3]["errors"][0]["field"] == "tracking_number"
    assert len(rows(engine, StatusEvent)) == 1


def test_everything_rejected_is_422(client: TestClient, make_event: EventFactory) -> None:
    response = post(client, [make_event(status=None)])
    assert response.status_code == 422
    assert response.json()["rejected"] == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": ""}, 401),
        ({"Authorization": "Basic dGVzdDp0ZXN0"}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Bearer second-key"}, 200),
    ],
    ids=["missing", "basic", "wrong key", "second key"],
)
def test_the_api_key_is_checked(
    client: TestClient,
    engine: Engine,
    make_event: EventFactory,
    headers: dict[str, str],
    status: int,
) -> None:
    response = post(client, make_event(), headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert rows(engine, StatusEvent) == []


def test_without_a_configured_key_the_api_is_off(engine: Engine, make_event: EventFactory) -> None:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    with TestClient(create_app(settings, engine=engine)) as client:
        response = post(client, make_event())
    assert response.status_code == 503
    assert "NOTIFIER_API_KEY" in response.json()["error"]
    assert rows(engine, StatusEvent) == []


def test_bodies_over_the_limit_get_413_declared_or_not(
    client: TestClient, make_event: EventFactory
) -> None:
    big = [make_event() for _ in range(40)]
    assert post(client, big).status_code == 413

    def chunks() -> Iterator[bytes]:
        payload = json.dumps(big).encode()
        for i in range(0, len(payload), 1000):
            yield payload[i : i + 1000]

    chunked = client.post(
        "/api/v1/events", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[" * 4000, "application/json", 400),
        (b"[]", "application/json", 422),
        (b'{"event_id": 1}', "text/plain", 415),
        (b"", "application/json", 400),
        (b"null", "application/json", 422),
        (b"123", "application/json", 422),
        (b'"event"', "application/json", 422),
        (b"[[[]]]", "application/json", 422),
        (b'{"event_id": NaN, "tracking_number": 1e999}', "application/json", 422),
        (
            b'{"event_id": "\\ud800", "tracking_number": "RP1", "status": "X", "occurred_at": "x"}',
            "application/json",
            422,
        ),
        (json.dumps({"event_id": "x" * 3000}).encode(), "application/json", 422),
        (
            json.dumps(
                {
                    k: {"a": [1]}
                    for k in (
                        "event_id",
                        "tracking_number",
                        "status",
                        "occurred_at",
                        "recipient",
                        "next_attempt",
                        "route_stop",
                    )
                }
            ).encode(),
            "application/json",
            422,
        ),
        (
            json.dumps(
                {
                    "event_id": "e",
                    "tracking_number": "RP1",
                    "status": "CREATED",
                    "occurred_at": "2026-11-22T10:00:00+01:00",
                    "route_stop": 10**40,
                }
            ).encode(),
            "application/json",
            422,
        ),
    ],
    ids=lambda v: None,
)
def test_bad_input_never_gets_a_500(
    client: TestClient, body: bytes, content_type: str, status: int
) -> None:
    response = client.post(
        "/api/v1/events", content=body, headers={**AUTH, "Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert "error" in response.json() or "results" in response.json()


def test_a_lone_surrogate_in_an_extra_field_is_stored_escaped(
    client: TestClient, engine: Engine
) -> None:
    body = (
        b'{"event_id": "e", "tracking_number": "RP1", "status": "CREATED",'
        b' "occurred_at": "2026-11-22T10:00:00+01:00", "note": "\\ud800 caff\xc3\xa8"}'
    )
    response = client.post(
        "/api/v1/events", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.json()["stored"] == 1
    (stored,) = rows(engine, StatusEvent)
    assert json.loads(stored["payload"])["note"] == "\ud800 caffè"


def test_an_older_event_arriving_later_does_not_move_the_status_back(
    client: TestClient, engine: Engine, make_event: EventFactory
) -> None:
    post(client, make_event(status="DELIVERED", occurred_at="2026-11-22T12:00:00+01:00"))
    post(client, make_event(status="OUT_FOR_DELIVERY", occurred_at="2026-11-22T08:00:00+01:00"))
    assert [r["status"] for r in rows(engine, Shipment)] == ["DELIVERED"]
    assert len(rows(engine, StatusEvent)) == 2


def test_an_invalid_phone_is_kept_as_invalid_and_the_event_stored(
    client: TestClient, engine: Engine, make_event: EventFactory
) -> None:
    response = post(client, make_event(recipient={"phone": "12345"}))
    assert response.json()["stored"] == 1
    (contact,) = rows(engine, ContactPoint)
    assert (contact["value"], contact["valid"]) == ("12345", False)
    assert contact["invalid_reason"]


def test_personal_data_never_reaches_the_logs(
    client: TestClient, make_event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = {
        "name": "Zebedeo Quintavalle",
        "phone": "+39 333 765 4321",
        "email": "zebedeo@example.it",
    }
    with caplog.at_level(logging.DEBUG):
        post(
            client,
            [make_event(recipient=secrets), make_event(recipient=secrets, occurred_at="bad")],
        )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in (*secrets.values(), "3337654321", "+393337654321"):
        assert value not in logged


def test_healthz_reports_database_and_schema(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["schema"]["up_to_date"] is True
    assert "scheduler" not in body


def test_healthz_is_503_on_an_unmigrated_database(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with TestClient(create_app(make_settings(sqlite_url), engine=engine)) as client:
        response = client.get("/healthz")
    engine.dispose()
    assert response.status_code == 503
    assert response.json()["schema"]["up_to_date"] is False


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    url = "postgresql://nobody@127.0.0.1:1/nowhere"
    engine = make_engine(url, connect_args={"connect_timeout": 2})
    with TestClient(create_app(make_settings(url), engine=engine)) as client:
        response = client.get("/healthz")
    engine.dispose()
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


def test_the_landing_page_uses_no_external_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Rapido Consegne" in page.text
    assert 'href="tel:+390212345678"' in page.text
    css = client.get("/static/notifier.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    for text in (page.text, css.text):
        assert "http://" not in text
        assert "https://" not in text
        assert "//cdn" not in text
    assert client.get("/docs").status_code == 404
