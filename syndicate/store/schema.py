"""The state store's schema (SQLAlchemy 2 Core): every table, and the UTC datetime type.

Tables:

- ``renditions``: per (answer, language) the last published rendition (JSON), its content
  hash, review dates, version counter, first-published and updated times, source path;
- ``events``: the outbox; ``id`` is derived from (type, answer, language, version) and unique,
  so re-running a sync never enqueues a duplicate;
- ``subscribers``: webhook endpoints with filters, secrets and status;
- ``deliveries``: one per (event, subscriber), unique, with state, due time and claim lease;
- ``delivery_attempts``: every attempt with status, duration, error and the first bytes
  of the answer;
- ``api_tokens``: partners' API tokens, hashed (:mod:`syndicate.http.tokens`);
- ``console_credentials``: operators' and translators' console credentials, hashed like API
  tokens; ``console_sessions``: signed-in console sessions (the cookie's digest, the role,
  the CSRF token, the expiry) (:mod:`syndicate.console`);
- ``job_runs``: the bounded run history of the scheduled jobs (one row per run, unique per
  scheduled tick so a tick never runs twice, even across a leader change);
- ``queue_samples``: the delivery queue once a minute (pending, due, the oldest due's wait),
  written by the ``deliver`` job for the console's queue-depth chart, kept 48 hours
  (:mod:`syndicate.store.samples`);
- ``leases``: named leases with an expiry: the scheduler leadership and per-job run locks;
- ``apscheduler_jobs``: APScheduler 3's SQLAlchemy job store (its own layout).

Subscribers are of two kinds: ``webhook`` (Standard Webhooks, owned by the partner whose API
token created them, or by nobody when an operator added them) and ``websub`` (a WebSub
callback for one ``topic`` feed, with a lease, :mod:`syndicate.webhooks.websub`).
``events.seq`` is the monotonically increasing position the catch-up API's cursors are made
of. Times are stored as naive UTC and returned as aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..errors import StoreError
from .sealed import SealedText


def naive_utc(value: dt.datetime) -> dt.datetime:
    """What the store keeps of an aware datetime: naive UTC (a naive one is a
    :class:`StoreError`: it has no meaning in the store)."""
    if value.tzinfo is None:
        raise StoreError("naive datetimes are not stored: pass an aware UTC datetime")
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
    # The console offers the published languages and conditions as subscription filters and
    # counts each language's published, stale and overdue answers from this index alone,
    # without reading any rendition (migration 0006).
    sa.Index("ix_renditions_language", "language", "condition_slug", "withdrawn", "stale",
             "review_due"),
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
    # The console's event catalog shows the latest event of each type (migration 0006).
    sa.Index("ix_events_type_seq", "type", "seq"),
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
    sa.Column("secret", SealedText, nullable=False),
    sa.Column("previous_secret", SealedText, nullable=True),
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
    # Deliveries by creation time (migration 0006, first made for the console's charts).
    sa.Index("ix_deliveries_created", "created_at"),
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
    # The first bytes of the answer's body (migration 0006).
    sa.Column("response", sa.Text, nullable=True),
    sa.Index("ix_delivery_attempts_delivery", "delivery_id", "number"),
    # The console's charts count attempts per minute of the last day (migration 0006).
    sa.Index("ix_delivery_attempts_time", "attempted_at", "status_code"),
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

console_credentials = sa.Table(
    "console_credentials",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("principal", sa.String(64), nullable=False),
    sa.Column("credential_id", sa.String(32), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_console_sessions_expires", "expires_at"),
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

queue_samples = sa.Table(
    "queue_samples",
    metadata,
    sa.Column("minute", UTCDateTime, primary_key=True),
    sa.Column("pending", sa.Integer, nullable=False),
    sa.Column("due", sa.Integer, nullable=False),
    sa.Column("oldest_due_seconds", sa.Float, nullable=True),
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
