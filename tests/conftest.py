"""Shared fixtures: settings, real databases (SQLite file, PostgreSQL), a fixed clock, factories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from notifier.config import Settings
from notifier.config.loading import settings_from_data
from notifier.db import schema
from notifier.db.engine import make_engine

# Provider servers (SMTP, Prism, our fake Twilio) live in their own module.
pytest_plugins = ["tests.providers"]

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
POSTGRES_ADMIN_URL = os.environ.get(
    "NOTIFIER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
TEST_SECRET_KEY = "test-secret-key-not-for-production"

# Rebooking links are derived from the secret key and PostgreSQL has no key-file
# fallback: every command a test runs (in process or as a child) gets one.
os.environ.setdefault("NOTIFIER_SECRET_KEY", TEST_SECRET_KEY)


def require(component: str, reason: str) -> None:
    """Skip when a component is missing on a laptop; fail in CI (NOTIFIER_TEST_REQUIRE=all)."""
    wanted = os.environ.get("NOTIFIER_TEST_REQUIRE", "")
    if wanted == "all" or component in wanted.split(","):
        pytest.fail(f"{component} is required here but missing: {reason}")
    pytest.skip(f"{component} missing: {reason}")


def shared_path(*parts: str) -> Path:
    """A file from ../shared, skipping (or failing in CI) when the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        require("shared", f"{path} not found (../shared is beside the repository in CI)")
    return path


# DESIGN.md section 5's example, word for word.
DESIGN_EVENT: dict[str, Any] = {
    "event_id": "tms-000123-0005",
    "source": "tms",
    "carrier": "rapido",
    "tracking_number": "RP123456789IT",
    "status": "DELIVERY_ATTEMPTED",
    "reason": "RECIPIENT_ABSENT",
    "occurred_at": "2026-11-22T10:49:00+01:00",
    "depot": "MI01",
    "route_stop": 17,
    "next_attempt": {"date": "2026-11-23", "window": "10:00-14:00"},
    "held_until": "2026-12-02",
    "pickup_point": "PP-MI-12",
    "estimated_delivery": "2026-11-23",
    "recipient": {
        "name": "Giovanni Bianchi",
        "phone": "+39 333 123 4567",
        "email": "giovanni@example.it",
        "locale": "it",
    },
    "sender": {"name": "Libreria Sant'Orsola"},
}


BASE_CONFIG: dict[str, Any] = {
    "company": {
        "name": "Rapido Consegne",
        "phone": "+39 02 1234 5678",
        "phone_hours": {day: "08:00-20:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "email": "assistenza@rapido.example",
        "website": "https://rapido.example",
        "rebooking_base_url": "https://rapido.example/r/",
        "default_locale": "it",
        "default_phone_region": "IT",
        "timezone": "Europe/Rome",
    },
    "depots": [
        {"code": "MI01", "name": "Milano Nord", "address": "Via Esempio 12, Milano"},
    ],
}


def make_settings(
    database_url: str, env: dict[str, str] | None = None, **sections: Any
) -> Settings:
    data = {**BASE_CONFIG, **sections, "database": {"url": database_url}}
    # Links are derived from the secret key; PostgreSQL has no key-file fallback.
    env = {"NOTIFIER_SECRET_KEY": TEST_SECRET_KEY, **(env or {})}
    return settings_from_data(data, source="test", env=env, base_dir=REPO)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'notifier.db'}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    # Whatever stops the connection (refused, no such role, timeout) means "absent".
    except Exception as exc:
        engine.dispose()
        require("postgres", f"cannot connect to {POSTGRES_ADMIN_URL}: {type(exc).__name__}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"notifier_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with postgres_admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated, empty database."""
    engine = make_engine(database_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_event() -> EventFactory:
    """A valid native event as a dict; keyword arguments replace (or with None, drop) keys."""
    counter = iter(range(1, 1_000_000))

    def factory(**changes: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"evt-{next(counter):06d}",
            "source": "tms",
            "carrier": "rapido",
            "tracking_number": "RP123456789IT",
            "status": "IN_TRANSIT",
            "occurred_at": "2026-11-22T10:49:00+01:00",
            "depot": "MI01",
            "recipient": {
                "name": "Giovanni Bianchi",
                "phone": "+39 333 123 4567",
                "email": "giovanni@example.it",
                "locale": "it",
            },
            "sender": {"name": "Libreria Sant'Orsola"},
        }
        for key, value in changes.items():
            if value is None:
                event.pop(key, None)
            else:
                event[key] = value
        return event

    return factory
