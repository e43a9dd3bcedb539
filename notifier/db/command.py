"""A command's work on the database: one transaction on a schema that is current, the
engine disposed after; a refusal (an old schema, a missing key) exits 2 with its reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection

from notifier.config import Settings
from notifier.config.option import command_failed
from notifier.db import schema
from notifier.db.engine import engine_from, read_transaction, write_transaction
from notifier.errors import NotifierError

T = TypeVar("T")


def on_database(settings: Settings, work: Callable[[Connection], T], *, write: bool) -> T:
    """`work(connection)` in one transaction on a database whose schema is current."""
    engine = engine_from(settings)
    try:
        schema.ensure_current(engine)
        transaction = write_transaction if write else read_transaction
        with transaction(engine) as connection:
            return work(connection)
    except NotifierError as exc:
        raise command_failed(str(exc)) from exc
    finally:
        engine.dispose()
