"""Batches straight to the database driver: SQL text fixed per dialect, rows as plain tuples.

Ingest moves thousands of rows a second through a handful of statements. Through
SQLAlchemy Core every row of an executemany becomes a dict, every value runs through
its type's processors and every result row through its own: together more time than
SQLite takes to store the rows. Here a statement is one piece of SQL text, values are
converted once by the functions below, into exactly what SQLAlchemy's types write and
read back (so Core and ORM code elsewhere sees the same rows), and a batch is one
executemany. Only the hot paths of ingest use this; everything else stays on Core.

The set of `IN (set)` is always one parameter, here and in Core (`one_of`): a plain
`IN (...)` with an expanding parameter makes SQLAlchemy render and name one placeholder
per value on every execution, which for large sets cost more than the queries
themselves. One JSON text (SQLite) or one array (PostgreSQL) keeps the statement the
same whatever the set, so it is compiled once and cached, and both databases still
answer it from the column's index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY


class Bulk:
    """SQL text and values for one connection's dialect: SQLite or PostgreSQL (psycopg)."""

    __slots__ = ("connection", "postgres")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    # Values -------------------------------------------------------------------------

    def when(self, value: datetime | None) -> Any:
        """An aware datetime as the driver takes it for a UTCDateTime column."""
        if value is None or self.postgres:
            return value
        return sqlite_datetime(value)

    def day(self, value: date | None) -> Any:
        if value is None or self.postgres:
            return value
        return value.isoformat()

    def read_when(self, value: Any) -> datetime | None:
        """A UTCDateTime column's value as fetched, as the aware UTC datetime it stands for."""
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def read_day(self, value: Any) -> date | None:
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(value)

    # Statements ---------------------------------------------------------------------

    def sql(self, text: str) -> str:
        """Statements are written with `?` placeholders; psycopg wants `%s`."""
        return text.replace("?", "%s") if self.postgres else text

    # Statement text is composed only here, and only from the tables' own names and
    # column names in our code; every value is a bound parameter (hence the noqa S608).

    def select_in(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        within: str,
        equal: Sequence[str] = (),
        order_by: str | None = None,
    ) -> str:
        """SELECT columns WHERE each of `equal` = ? AND `within` is one of a set.

        The set is one parameter (see `values`) whatever its size, so the text stays the
        same for every batch; both databases still answer it from the column's index.
        """
        conditions = [f"{name} = ?" for name in equal]
        conditions.append(self._one_of(within))
        where = " AND ".join(conditions)
        sql = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {where}"  # noqa: S608
        return f"{sql} ORDER BY {order_by}" if order_by else sql

    def update_in(
        self, table: Table, columns: Sequence[str], *, within: str, where: Sequence[str] = ()
    ) -> str:
        """UPDATE these columns of the rows whose `within` is one of a set (the last
        parameter), and that meet each of `where`, conditions written without values."""
        conditions = [*where, self._one_of(within)]
        assignments = ", ".join(f"{name} = ?" for name in columns)
        return f"UPDATE {table.name} SET {assignments} WHERE {' AND '.join(conditions)}"  # noqa: S608

    def _one_of(self, column: str) -> str:
        if self.postgres:
            return f"{column} = ANY(?)"
        return f"{column} IN (SELECT value FROM json_each(?))"  # noqa: S608

    def values(self, values: Iterable[Any]) -> Any:
        """The parameter for the set of `select_in` and `update_in`."""
        wanted = list(dict.fromkeys(values))
        return wanted if self.postgres else json.dumps(wanted)

    def insert_sql(
        self, table: Table, columns: Sequence[str], *, unique: Sequence[str] = ()
    ) -> str:
        """INSERT of one row's columns; with `unique`, rows clashing on those are skipped."""
        _check_complete(table, tuple(columns))
        marks = ", ".join(["?"] * len(columns))
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        if unique:
            sql += f" ON CONFLICT ({', '.join(unique)}) DO NOTHING"
        return sql

    def update_sql(self, table: Table, columns: Sequence[str]) -> str:
        """UPDATE of these columns of the row whose id is the last parameter."""
        assignments = ", ".join(f"{name} = ?" for name in columns)
        return f"UPDATE {table.name} SET {assignments} WHERE id = ?"  # noqa: S608

    def fetch(self, sql: str, *params: Any) -> list[Any]:
        """Rows of a query as tuples, with values as the driver gives them."""
        return list(self.connection.exec_driver_sql(self.sql(sql), params).all())

    def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.connection.exec_driver_sql(self.sql(sql), rows)

    def insert_returning_ids(
        self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> list[int]:
        """Insert rows and return their new ids, in the order of `rows`."""
        if not rows:
            return []
        sql = self.sql(self.insert_sql(table, columns))
        if self.postgres:
            # psycopg runs the batch as a pipeline and keeps each statement's result,
            # in order.
            cursor: Any = self.connection.connection.cursor()
            try:
                cursor.executemany(sql + " RETURNING id", rows, returning=True)
                ids: list[int] = []
                while True:
                    ids.append(cursor.fetchone()[0])
                    if not cursor.nextset():
                        break
                return ids
            finally:
                cursor.close()
        self.connection.exec_driver_sql(sql, rows)
        # Callers hold the database's write lock (BEGIN IMMEDIATE), and SQLite gives a
        # new row of a rowid table "one larger than the largest ROWID in the table prior
        # to the insert" (sqlite.org/autoinc.html): the batch got consecutive ids.
        (last,) = self.connection.exec_driver_sql("SELECT last_insert_rowid()").one()
        return list(range(last - len(rows) + 1, last + 1))


def sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores, in UTC: '2026-11-30 12:00:00.000000'."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Three times quicker than isoformat(" ", "microseconds"), and it runs for every
    # timestamp ingest writes.
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


@cache
def _check_complete(table: Table, columns: tuple[str, ...]) -> None:
    """Core fills Python-side defaults in; driver-level inserts must name every column."""
    missing = [
        c.name
        for c in table.columns
        if c.name not in columns
        and not c.primary_key
        and c.server_default is None  # the database fills it in
        and (c.default is not None or not c.nullable)
    ]
    if missing:
        raise ValueError(f"an insert into {table.name} must set {', '.join(missing)}")


def one_of(
    connection: Connection, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column IN values` for Core statements, ints or strings, the set bound as one value."""
    wanted = list(dict.fromkeys(values))
    if connection.dialect.name == "postgresql":
        array = bindparam(None, wanted, type_=ARRAY(column.type))
        rows = func.unnest(array).table_valued("value").render_derived()
        return column.in_(select(rows.c.value))
    each = func.json_each(bindparam(None, json.dumps(wanted), type_=String)).table_valued("value")
    return column.in_(select(each.c.value))
