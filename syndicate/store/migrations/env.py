"""Alembic environment: runs on the connection :func:`syndicate.store.upgrade` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from syndicate.errors import StoreError
from syndicate.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):  # pragma: no cover - only run through store.upgrade
    raise StoreError("run migrations with `syndicate db upgrade`")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
