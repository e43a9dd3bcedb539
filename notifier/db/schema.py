"""The database schema's version: upgrading it, and refusing to run on an old one."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from notifier import paths
from notifier.errors import DatabaseUnavailableError, SchemaOutOfDateError


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(paths.migrations_dir()))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailableError(f"cannot reach the database: {exc.orig}") from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_current(engine: Engine) -> None:
    """Raise SchemaOutOfDateError, saying what to run, unless the schema is at head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        found = "an empty database" if current is None else f"schema version {current}"
        raise SchemaOutOfDateError(
            f"found {found}, this notifier needs {head}: run `notifier db upgrade` first"
        )
