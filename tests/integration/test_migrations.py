"""Migrations: they apply to empty SQLite and PostgreSQL databases and match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.errors import SchemaOutOfDateError


def test_upgrade_creates_every_table_on_an_empty_database(database_url: str) -> None:
    engine = make_engine(database_url)
    assert schema.current_revision(engine) is None
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"shipments", "contact_points", "status_events", "outbox"} <= tables
    engine.dispose()


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == [], "models changed without a migration: write one"


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine)
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    engine.dispose()


def test_an_empty_database_is_refused_with_the_command_to_run(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with pytest.raises(SchemaOutOfDateError, match="notifier db upgrade"):
        schema.ensure_current(engine)
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
