"""Driver-level batches write exactly what SQLAlchemy's own types write and read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select

from notifier.db import schema
from notifier.db.bulk import Bulk
from notifier.db.engine import write_transaction
from notifier.db.tables import SHIPMENTS

ROME = timezone(timedelta(hours=1))
MOMENTS = [
    datetime(2026, 11, 30, 12, 0, tzinfo=UTC),  # no microseconds: still written out
    datetime(2026, 11, 30, 12, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 29, 2, 30, 59, 999999, tzinfo=ROME),  # another offset: stored in UTC
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),  # a three-digit year is zero-padded
]
COLUMNS = (
    "carrier",
    "tracking_number",
    "generation",
    "status",
    "status_occurred_at",
    "first_event_at",
    "held_until",
    "created_at",
    "updated_at",
)


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    schema.upgrade(engine)
    return engine


def test_rows_written_by_bulk_read_back_through_core_as_written(migrated: Engine) -> None:
    with write_transaction(migrated) as connection:
        bulk = Bulk(connection)
        rows = [
            ("rapido", f"RP{n}", 1, "CREATED", bulk.when(m), bulk.when(m), bulk.day(m.date()),
             bulk.when(m), bulk.when(m))
            for n, m in enumerate(MOMENTS)
        ]  # fmt: skip
        ids = bulk.insert_returning_ids(SHIPMENTS, COLUMNS, rows)
    with migrated.connect() as connection:
        query = select(SHIPMENTS.c.id, SHIPMENTS.c.status_occurred_at, SHIPMENTS.c.held_until)
        back = connection.execute(query.order_by(SHIPMENTS.c.tracking_number)).all()
    assert [row.id for row in back] == ids
    assert [row.status_occurred_at for row in back] == MOMENTS
    assert [row.held_until for row in back] == [m.date() for m in MOMENTS]


def test_bulk_values_are_what_core_stores(migrated: Engine) -> None:
    """Compared as stored, so SQL comparing timestamps sees one format whoever wrote them."""
    with write_transaction(migrated) as connection:
        for n, moment in enumerate(MOMENTS):
            connection.execute(
                insert(SHIPMENTS).values(
                    carrier="core", tracking_number=f"RP{n}", status="CREATED",
                    status_occurred_at=moment, first_event_at=moment, held_until=date(2026, 1, 2),
                    created_at=moment, updated_at=moment,
                )
            )  # fmt: skip
        raw = connection.exec_driver_sql(
            "SELECT status_occurred_at, held_until FROM shipments ORDER BY tracking_number"
        ).all()
        bulk = Bulk(connection)
        assert [tuple(row) for row in raw] == [
            (bulk.when(m), bulk.day(date(2026, 1, 2))) for m in MOMENTS
        ]
        assert [bulk.read_when(row[0]) for row in raw] == MOMENTS


def test_ids_come_back_in_the_order_of_the_rows(migrated: Engine) -> None:
    with write_transaction(migrated) as connection:
        bulk = Bulk(connection)
        moment = bulk.when(MOMENTS[0])
        first = bulk.insert_returning_ids(
            SHIPMENTS, COLUMNS, [("a", "X1", 1, "CREATED", moment, moment, None, moment, moment)]
        )
        numbers = [f"N{n:03d}" for n in range(250, 0, -1)]  # not in key order
        rows = [("a", t, 1, "CREATED", moment, moment, None, moment, moment) for t in numbers]
        ids = bulk.insert_returning_ids(SHIPMENTS, COLUMNS, rows)
        stored: dict[str, int] = dict(
            connection.exec_driver_sql("SELECT tracking_number, id FROM shipments").all()
        )
    assert ids == [stored[t] for t in numbers]
    assert len(set(ids)) == len(ids)
    assert min(ids) > first[0]


def test_an_insert_that_leaves_out_a_defaulted_column_is_refused(migrated: Engine) -> None:
    with write_transaction(migrated) as connection, pytest.raises(ValueError, match="generation"):
        Bulk(connection).insert_sql(SHIPMENTS, [c for c in COLUMNS if c != "generation"])
