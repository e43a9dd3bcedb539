"""Answers under a database fault (issue 15, item 5): a database held by another writer
makes POST /api/v1/events answer 503 with Retry-After within the configured lock timeout,
/healthz is not ok, and the event the sender retries afterwards is stored once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from notifier.db.engine import engine_from, read_transaction
from notifier.db.locks import WRITERS_LOCK_ID
from notifier.db.tables import EVENTS
from notifier.web.app import create_app
from tests.conftest import EventFactory, make_settings
from tests.integration.conftest import API_KEY, post_events
from tests.unit.carrier_payloads import own

SHIPPO_TOKEN = "shippo-token-for-tests"
LOCK_TIMEOUT = 1.0
# Far above the lock timeout, far below "hangs": a loaded machine still answers in it.
ANSWER_WITHIN = 10.0


def service_client(engine: Engine, stack: ExitStack) -> TestClient:
    """The app on the service's own engine (engine_from: the configured lock timeout)."""
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(
        url,
        env={"NOTIFIER_API_KEY": API_KEY, "NOTIFIER_WEBHOOK_SECRET_SHIPPO": SHIPPO_TOKEN},
        database={"url": url, "lock_timeout_seconds": LOCK_TIMEOUT},
    )
    service = engine_from(settings)
    stack.callback(service.dispose)
    return stack.enter_context(TestClient(create_app(settings, engine=service)))


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with ExitStack() as stack:
        yield service_client(engine, stack)


@contextmanager
def held_by_another_writer(engine: Engine) -> Iterator[None]:
    """Another process's writer in the middle of its transaction."""
    if engine.dialect.name == "sqlite":
        other = sqlite3.connect(engine.url.database or "", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    with engine.connect() as other, other.begin():
        other.execute(select(func.pg_advisory_xact_lock(WRITERS_LOCK_ID)))
        yield


def stored(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return int(connection.execute(select(func.count()).select_from(EVENTS)).scalar_one())


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def test_a_held_database_gets_503_with_retry_after_and_the_retry_is_stored(
    engine: Engine, client: TestClient, make_event: EventFactory
) -> None:
    event = make_event()
    with held_by_another_writer(engine):
        answer, took = timed(lambda: post_events(client, event))
        assert answer.status_code == 503
        assert int(answer.headers["Retry-After"]) > 0
        assert answer.json() == {"error": "the database is unavailable: try again shortly"}
        assert took < ANSWER_WITHIN
        assert stored(engine) == 0
    retried = post_events(client, event)  # the sender's retry, once the writer is done
    assert retried.status_code == 200
    assert retried.json()["stored"] == 1
    assert post_events(client, event).json()["duplicates"] == 1
    assert stored(engine) == 1


def test_a_webhook_under_a_held_database_is_told_to_retry_and_the_retry_is_stored(
    engine: Engine, client: TestClient
) -> None:
    _, body = own("shippo_delivery_attempted.json")
    path = f"/webhooks/shippo?token={SHIPPO_TOKEN}"
    with held_by_another_writer(engine):
        answer, took = timed(lambda: client.post(path, content=body))
        assert (answer.status_code, took < ANSWER_WITHIN) == (503, True)
        assert int(answer.headers["Retry-After"]) > 0
        assert stored(engine) == 0
    assert client.post(path, content=body).json()["stored"] == 1  # Shippo's retry
    assert stored(engine) == 1


def test_healthz_is_not_ok_while_another_writer_holds_sqlite(sqlite_engine: Engine) -> None:
    # PostgreSQL's writers do not block one another's health check: SQLite's do.
    with ExitStack() as stack:
        client = service_client(sqlite_engine, stack)
        healthz_while_held(sqlite_engine, client)


def healthz_while_held(engine: Engine, client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    with held_by_another_writer(engine):
        answer, took = timed(lambda: client.get("/healthz"))
        assert answer.status_code == 503
        assert answer.json()["database"] == "not writable: locked or read-only"
        assert took < ANSWER_WITHIN
    assert client.get("/healthz").json()["status"] == "ok"


def test_a_missing_table_is_a_bug_answered_500_not_a_retry(tmp_path: Path) -> None:
    # Not migrated: the database answers, but a table is missing. A 503 would have the
    # sender retry for ever against a deployment that can never succeed.
    url = f"sqlite:///{tmp_path / 'unmigrated.db'}"
    settings = make_settings(url, env={"NOTIFIER_API_KEY": API_KEY})
    engine = engine_from(settings)
    try:
        with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as c:
            answer = c.get(
                "/api/v1/shipments/RP123456789IT/slip.zpl",
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
    finally:
        engine.dispose()
    assert answer.status_code == 500
    assert "retry-after" not in answer.headers
