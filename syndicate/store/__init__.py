"""The state store: its schema, its engine and its migrations (SQLAlchemy 2 Core, Alembic).

SQLite is the embedded default; PostgreSQL serves several processes. Times are stored as
naive UTC and read back as aware UTC datetimes (:class:`UTCDateTime`).
"""

from __future__ import annotations

from .engine import (
    MIGRATIONS,
    check_schema,
    create_engine,
    current_revision,
    head_revision,
    open_engine,
    upgrade,
)
from .samples import QueueSample, queue_samples_since, record_queue_sample
from .schema import (
    UTCDateTime,
    api_tokens,
    apscheduler_jobs,
    attempts,
    console_credentials,
    console_sessions,
    deliveries,
    events,
    job_runs,
    leases,
    metadata,
    naive_utc,
    queue_samples,
    renditions,
    subscribers,
)
from .sealed import SealedText, configure_secrets, reseal
from .sql import any_of, insert_ignoring_duplicates

__all__ = [
    "MIGRATIONS",
    "QueueSample",
    "SealedText",
    "UTCDateTime",
    "any_of",
    "api_tokens",
    "apscheduler_jobs",
    "attempts",
    "check_schema",
    "configure_secrets",
    "console_credentials",
    "console_sessions",
    "create_engine",
    "current_revision",
    "deliveries",
    "events",
    "head_revision",
    "insert_ignoring_duplicates",
    "job_runs",
    "leases",
    "metadata",
    "naive_utc",
    "open_engine",
    "queue_samples",
    "queue_samples_since",
    "record_queue_sample",
    "renditions",
    "reseal",
    "subscribers",
    "upgrade",
]
