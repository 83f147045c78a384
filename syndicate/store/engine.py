"""The state store's engine: connections, migrations and the schema-version check.

One schema for SQLite (the embedded default, in WAL mode with a busy timeout and immediate
write transactions) and PostgreSQL (for several processes). The schema is created and
upgraded by the Alembic migrations in ``syndicate/store/migrations`` (:func:`upgrade`);
:func:`open_engine` refuses a database whose schema is older or newer than this code.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from ..errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    Immediate transactions take SQLite's write lock at the start, so two writers queue on the
    busy timeout instead of failing when a read transaction tries to become a write one.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        _private_file(Path(database))
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _private_file(database: Path) -> None:
    """Create the SQLite file ``0600`` (its WAL and shared-memory files take its mode) and
    its folder, when this creates it, ``0700``: the file holds webhook and hub secrets. An
    existing folder is left as it is (it may be shared)."""
    folder = database.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    if not database.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema revision this code expects."""
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database, ``None`` if it has none."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema with the migrations (``syndicate db upgrade``)."""
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the database schema: {exc}") from exc


def check_schema(engine: Engine) -> None:
    """Refuse a database whose schema is not exactly the one this code expects."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise StoreError(f"{where} has no Syndicate schema: run `syndicate db upgrade`")
    known = {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    if current not in known:
        raise StoreError(
            f"{where} has schema {current}, newer than this Syndicate (expects {head}): "
            "upgrade Syndicate before using this database"
        )
    raise StoreError(
        f"{where} has schema {current}, older than this Syndicate (expects {head}): "
        "run `syndicate db upgrade`"
    )


def open_engine(url: str, *, create: bool = True) -> Engine:
    """An engine over a database at the expected schema.

    A database without any table is created at the current schema when ``create`` is true
    (the embedded default works out of the box); a database at another schema is refused.
    """
    engine = create_engine(url)
    try:
        if create and current_revision(engine) is None and not sa.inspect(engine).get_table_names():
            upgrade(engine)
        check_schema(engine)
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open the state database: {exc}") from exc
    except StoreError:
        engine.dispose()
        raise
    return engine
