"""The state store: schema, engine and schema-version check (SQLAlchemy 2 Core).

One schema for SQLite (the embedded default, in WAL mode with a busy timeout and immediate
write transactions) and PostgreSQL (for several processes, issue 6). Tables:

- ``renditions``: per (answer, language) the last published rendition (JSON), its content
  hash, review dates, version counter, first-published and updated times, source path;
- ``events``: the outbox; ``id`` is derived from (type, answer, language, version) and unique,
  so re-running a sync never enqueues a duplicate;
- ``subscribers``: webhook endpoints with filters, secrets and status;
- ``deliveries``: one per (event, subscriber), unique, with state, due time and claim lease;
- ``delivery_attempts``: every attempt with status, duration and error;
- ``api_tokens``: partners' API tokens, hashed (:mod:`syndicate.tokens`);
- ``job_runs``: the bounded run history of the scheduled jobs (one row per run, unique per
  scheduled tick so a tick never runs twice, even across a leader change);
- ``leases``: named leases with an expiry: the scheduler leadership and per-job run locks;
- ``apscheduler_jobs``: APScheduler 3's SQLAlchemy job store (its own layout).

Subscribers are of two kinds: ``webhook`` (Standard Webhooks, owned by the partner whose API
token created them, or by nobody when an operator added them) and ``websub`` (a WebSub
callback for one ``topic`` feed, with a lease, :mod:`syndicate.websub`). ``events.seq`` is the
monotonically increasing position the catch-up API's cursors are made of.

The schema is created and upgraded by the Alembic migrations in ``syndicate/migrations``
(:func:`upgrade`); :func:`open_engine` refuses a database whose schema is older or newer than
this code. Times are stored as naive UTC and returned as aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from .errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def naive_utc(value: dt.datetime) -> dt.datetime:
    """What the store keeps of an aware datetime: naive UTC (naive input is refused)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored: pass an aware UTC datetime")
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime stored as a naive UTC timestamp on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else naive_utc(value)

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite returns strings in raw SQL only
            value = dt.datetime.fromisoformat(value)
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


metadata = sa.MetaData()

renditions = sa.Table(
    "renditions",
    metadata,
    sa.Column("answer_id", sa.String(64), primary_key=True),
    sa.Column("language", sa.String(35), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source_hash", sa.String(64), nullable=False),
    sa.Column("reviewed", sa.Date, nullable=False),
    sa.Column("source_reviewed", sa.Date, nullable=False),
    sa.Column("review_due", sa.Date, nullable=True),
    sa.Column("stale", sa.Boolean, nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sa.Column("condition_slug", sa.String(64), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("rendition", sa.Text, nullable=False),
    sa.Column("source_path", sa.Text, nullable=False),
    sa.Column("first_published", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("answer_id", sa.String(64), nullable=True),
    sa.Column("language", sa.String(35), nullable=True),
    sa.Column("condition_slug", sa.String(64), nullable=True),
    sa.Column("subscriber_id", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("full_payload", sa.Text, nullable=True),
)

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("languages", sa.Text, nullable=False),
    sa.Column("conditions", sa.Text, nullable=False),
    sa.Column("event_types", sa.Text, nullable=False),
    sa.Column("full", sa.Boolean, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("previous_secret", sa.Text, nullable=True),
    sa.Column("previous_secret_until", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("verified_at", UTCDateTime, nullable=True),
    sa.Column("failing_since", UTCDateTime, nullable=True),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False, server_default="webhook"),
    sa.Column("topic", sa.Text, nullable=True),
    sa.Column("lease_expires_at", UTCDateTime, nullable=True),
    sa.Index("ix_subscribers_owner", "owner"),
    sa.Index("ix_subscribers_kind", "kind"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), sa.ForeignKey("events.id"), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("subscriber_id", sa.String(40), sa.ForeignKey("subscribers.id"), nullable=False),
    sa.Column("full", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("event_id", "subscriber_id", name="uq_deliveries_event_subscriber"),
    sa.Index("ix_deliveries_due", "state", "due_at"),
    # The claim (see migration 0005): deliveries nobody holds in claim order, and the leases
    # held, by expiry.
    sa.Index("ix_deliveries_ready", "due_at", "id",
             postgresql_where=sa.text("state = 'pending' AND claimed_until IS NULL"),
             sqlite_where=sa.text("state = 'pending' AND claimed_until IS NULL")),
    sa.Index("ix_deliveries_leased", "claimed_until",
             postgresql_where=sa.text("state = 'pending' AND claimed_until IS NOT NULL"),
             sqlite_where=sa.text("state = 'pending' AND claimed_until IS NOT NULL")),
    sa.Index("ix_deliveries_subscriber", "subscriber_id", "created_at"),
)

attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("worker", sa.String(64), nullable=True),
    sa.Index("ix_delivery_attempts_delivery", "delivery_id", "number"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Index("ix_api_tokens_partner", "partner"),
)


job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("scheduled_for", UTCDateTime, nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("summary", sa.Text, nullable=True),
    sa.Column("host", sa.String(200), nullable=True),
    sa.UniqueConstraint("job", "scheduled_for", name="uq_job_runs_tick"),
    sa.Index("ix_job_runs_job_started", "job", "started_at"),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

apscheduler_jobs = sa.Table(
    "apscheduler_jobs",
    metadata,
    # APScheduler 3's SQLAlchemyJobStore layout, created by the migrations like every table.
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    Immediate transactions take SQLite's write lock at the start, so two writers queue on the
    busy timeout instead of failing when a read transaction tries to become a write one.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
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
