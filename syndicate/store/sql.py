"""SQL that SQLite and PostgreSQL write differently, written once for both."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import StoreError


def insert_ignoring_duplicates(conn: Connection, table: sa.Table) -> sa.Insert:
    """An ``INSERT`` into ``table`` that skips rows violating a unique constraint
    (``ON CONFLICT DO NOTHING``): the statement, to execute with one row or many."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise StoreError(f"{dialect} is not supported: use SQLite or PostgreSQL")


def any_of(column: sa.ColumnElement[Any], values: Collection[Any], dialect: str
           ) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``column = ANY(:array)``, one statement text
    whatever the number of values, so psycopg's server-side prepared statements are reused
    instead of a new statement (and plan) for every list length."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type),
                                              unique=True))
    return column.in_(list(values))
