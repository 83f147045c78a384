"""Per-minute samples of the delivery queue, for the console's queue-depth chart.

The depth of a queue at a past minute cannot be rebuilt from the rows that are left: a
delivery that died left the queue without being delivered, a requeued one came back. So the
``deliver`` job writes what it sees, at most once a minute: how many deliveries are pending,
how many of them are due, and how long the oldest due one has waited. The row is keyed by
the minute, written insert-or-ignore, so several processes (or a job run twice in a minute)
record one sample; samples older than :data:`KEPT` are pruned as new ones are written. A
minute with no sample (no deliver run, the service down) stays a gap: nothing is known of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import deliveries, queue_samples
from .sql import insert_ignoring_duplicates

KEPT = dt.timedelta(hours=48)


@dataclasses.dataclass(frozen=True, slots=True)
class QueueSample:
    """The delivery queue as one minute saw it."""

    minute: dt.datetime
    pending: int
    """Deliveries not yet delivered nor dead (due now or waiting for a retry)."""
    due: int
    """Pending deliveries whose time has come."""
    oldest_due_seconds: float | None
    """How long the oldest due delivery has waited (``None`` when none is due)."""


def _minute(now: dt.datetime) -> dt.datetime:
    return now.replace(second=0, microsecond=0)


def record_queue_sample(engine: Engine, *, now: dt.datetime) -> bool:
    """Write the sample of ``now``'s minute unless one is there; prune old samples. Whether
    this call wrote it."""
    d, q = deliveries.c, queue_samples.c
    with engine.begin() as conn:
        pending, due, oldest = conn.execute(sa.select(
            sa.func.count(),
            sa.func.count().filter(d.due_at <= now),
            sa.func.min(d.due_at).filter(d.due_at <= now),
        ).where(d.state == "pending")).one()
        if oldest is not None and oldest.tzinfo is None:  # aggregates skip the column type
            oldest = oldest.replace(tzinfo=dt.UTC)
        if isinstance(oldest, str):
            oldest = dt.datetime.fromisoformat(oldest).replace(tzinfo=dt.UTC)
        # RETURNING, not rowcount: psycopg's rowcount of a skipped row is not 0
        wrote = conn.execute(insert_ignoring_duplicates(conn, queue_samples).returning(q.minute), {
            "minute": _minute(now), "pending": int(pending), "due": int(due),
            "oldest_due_seconds": None if oldest is None
            else max(0.0, (now - oldest).total_seconds()),
        }).first()
        conn.execute(sa.delete(queue_samples).where(q.minute < _minute(now) - KEPT))
    return wrote is not None


def queue_samples_since(engine: Engine, since: dt.datetime) -> list[QueueSample]:
    """The samples from ``since`` on, oldest first."""
    q = queue_samples.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(q.minute, q.pending, q.due, q.oldest_due_seconds)
                            .where(q.minute >= since).order_by(q.minute)).all()
    return [QueueSample(row.minute, row.pending, row.due, row.oldest_due_seconds)
            for row in rows]
