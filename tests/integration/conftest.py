"""Integration helpers for the web edge: API clients on real databases, polling with a deadline."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Table, select

from notifier.clock import wall_clock
from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.web.app import create_app
from tests.conftest import make_settings

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
JSON = {"Content-Type": "application/json"}

ClientFactory = Callable[..., TestClient]


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; tests take copies (a copy costs far less)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(f"{path.name}-wal").exists()
    return path


@pytest.fixture
def migrated_sqlite_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of the test's own."""
    path = tmp_path / "migrated.db"
    shutil.copyfile(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_engine(migrated_sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite engine, for tests where the database does not change the answer."""
    engine = make_engine(migrated_sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """make_client(engine, env=..., **sections): a started TestClient, closed after the test.

    The API key is configured unless `env` says otherwise.
    """
    with ExitStack() as stack:

        def factory(
            engine: Engine,
            *,
            env: dict[str, str] | None = None,
            clock: Callable[[], datetime] | None = None,
            **sections: Any,
        ) -> TestClient:
            url = engine.url.render_as_string(hide_password=False)
            environment = {"NOTIFIER_API_KEY": API_KEY} if env is None else env
            settings = make_settings(url, env=environment, **sections)
            app = create_app(settings, engine=engine, clock=clock or wall_clock)
            client = TestClient(app)
            return stack.enter_context(client)

        yield factory


def post_events(client: TestClient, body: Any, **headers: str) -> Any:
    """POST a JSON-serialisable body with the test key; keyword arguments replace headers."""
    return client.post(
        "/api/v1/events",
        content=json.dumps(body).encode(),
        headers={**AUTH, **JSON, **headers},
    )


def rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    """Every row of a table (a SQLModel class or a Table), in primary-key order."""
    core: Table = table if isinstance(table, Table) else table.__table__
    with engine.connect() as connection:
        query = select(core).order_by(*core.primary_key.columns)
        return [dict(row) for row in connection.execute(query).mappings()]


def wait_until(predicate: Callable[[], bool], *, what: str, timeout: float = 15.0) -> None:
    """Poll `predicate` until it holds; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: wait() is a bounded pause between polls
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        pause.wait(0.02)


def free_port() -> int:
    """A loopback port nothing listens on (bound, read and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
