"""`column IN (many values)` bound as one parameter, whatever the number of values.

A plain `IN (...)` with an expanding parameter makes SQLAlchemy render and name one
placeholder per value on every execution: for large sets that cost more than the
queries themselves. One JSON text (SQLite) or one array (PostgreSQL) keeps the statement
the same whatever the set, so it is compiled once and cached, and both databases still
answer it from the column's index. Ingest's lookups do the same below Core (bulk.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, bindparam, func, select
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
