"""`column IN (many values)` bound as one parameter, whatever the number of values.

A plain `IN (...)` with an expanding parameter makes SQLAlchemy render and name one
placeholder per value on every execution: for the batches ingest looks up that cost more
than the queries themselves. One JSON text (SQLite) or one array per column (PostgreSQL)
keeps the statement the same for every batch, so it is compiled once and cached, and both
databases still answer it from the column's index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY


def one_of(
    connection: Connection, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column IN values` for ints or strings."""
    wanted = list(dict.fromkeys(values))
    if connection.dialect.name == "postgresql":
        array = bindparam(None, wanted, type_=ARRAY(column.type))
        rows = func.unnest(array).table_valued("value").render_derived()
        return column.in_(select(rows.c.value))
    each = func.json_each(bindparam(None, json.dumps(wanted), type_=String)).table_valued("value")
    return column.in_(select(each.c.value))


def pair_of(
    connection: Connection,
    first: ColumnElement[Any],
    second: ColumnElement[Any],
    pairs: Iterable[tuple[Any, Any]],
) -> ColumnElement[bool]:
    """`(first, second) IN pairs`; both SQLite 3.40 and PostgreSQL search the two-column index."""
    wanted = list(dict.fromkeys(pairs))
    if connection.dialect.name == "postgresql":
        firsts = bindparam(None, [a for a, _ in wanted], type_=ARRAY(first.type))
        seconds = bindparam(None, [b for _, b in wanted], type_=ARRAY(second.type))
        rows = func.unnest(firsts, seconds).table_valued("a", "b").render_derived()
        return tuple_(first, second).in_(select(rows.c.a, rows.c.b))
    each = func.json_each(bindparam(None, json.dumps(wanted), type_=String)).table_valued("value")
    return tuple_(first, second).in_(
        select(func.json_extract(each.c.value, "$[0]"), func.json_extract(each.c.value, "$[1]"))
    )
