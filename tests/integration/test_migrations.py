"""Migrations: they apply to empty SQLite and PostgreSQL databases and match the models."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from notifier.db import schema
from notifier.db.engine import make_engine
from notifier.errors import SchemaOutOfDateError
from tests.conftest import EventFactory, make_settings
from tests.integration.test_confirmation import TUESDAY_MORNING, book, missed, store


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


def test_0006_moves_a_booking_out_of_the_purpose_text_and_back(
    engine: Engine, make_event: EventFactory
) -> None:
    """Rows queued before 0006 named their booking inside the purpose ("rebooked:42")."""
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    store(engine, settings, missed(make_event))
    booked, _ = book(engine, settings, TUESDAY_MORNING)
    config = schema._alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    with engine.connect() as connection:
        purposes = connection.exec_driver_sql("SELECT purpose FROM outbox").scalars().all()
    assert f"rebooked:{booked.id}" in purposes
    assert "rebooking_confirmed" not in purposes

    schema.upgrade(engine)

    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT purpose, rebooking_id FROM outbox WHERE rebooking_id IS NOT NULL"
        ).all()
    assert [tuple(r) for r in rows] == [("rebooking_confirmed", booked.id)]


def test_0007_adds_the_recipient_address_and_takes_it_away_again(
    engine: Engine, make_event: EventFactory
) -> None:
    """Its downgrade drops the column in place: shipments stay, with everything that
    points at them (SQLite's foreign keys refuse a batch copy of the table)."""
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    recipient = {"name": "Giovanni Bianchi", "address": {"line1": "Via Solferino 12"}}
    store(engine, settings, missed(make_event, recipient=recipient))
    book(engine, settings, TUESDAY_MORNING)
    config = schema._alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    columns = {c["name"] for c in inspect(engine).get_columns("shipments")}
    assert "recipient_address" not in columns
    assert "recipient_name" in columns

    schema.upgrade(engine)

    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT recipient_name, recipient_address FROM shipments"
        ).all()
    assert [tuple(r) for r in rows] == [("Giovanni Bianchi", None)]
