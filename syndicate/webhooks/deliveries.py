"""Deliveries as operators and partners see them: list, show with every attempt, send again.

Retrying (a dead delivery) and replaying (everything since a date, e.g. after a receiver lost
data) make deliveries due now with a fresh retry schedule; the event and its ``webhook-id``
stay the same, so receivers can drop what they already have.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..errors import NotFoundError
from ..store import attempts, deliveries


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery as operators see it."""

    id: int
    event_id: str
    event_type: str
    subscriber_id: str
    state: str
    attempts: int
    due_at: dt.datetime
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_status: int | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            key: rfc3339(value, "seconds") if isinstance(value, dt.datetime) else value
            for key, value in dataclasses.asdict(self).items()
        }


_VIEW = [deliveries.c[name] for name in (
    "id", "event_id", "event_type", "subscriber_id", "state", "attempts", "due_at",
    "created_at", "delivered_at", "last_status", "last_error",
)]


def list_deliveries(
    engine: Engine, *, state: str | None = None, subscriber_id: str | None = None,
    since: dt.datetime | None = None, limit: int = 100,
) -> list[DeliveryView]:
    """Deliveries, newest first, filtered."""
    query = sa.select(*_VIEW).order_by(deliveries.c.id.desc()).limit(limit)
    if state:
        query = query.where(deliveries.c.state == state)
    if subscriber_id:
        query = query.where(deliveries.c.subscriber_id == subscriber_id)
    if since:
        query = query.where(deliveries.c.created_at >= since)
    with engine.connect() as conn:
        return [DeliveryView(*row) for row in conn.execute(query)]


def show_delivery(engine: Engine, delivery_id: int) -> tuple[DeliveryView, list[dict[str, Any]]]:
    """One delivery and its attempts; :class:`NotFoundError` if unknown."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(*_VIEW).where(deliveries.c.id == delivery_id)).first()
        if found is None:
            raise NotFoundError(f"no delivery {delivery_id}")
        logged = conn.execute(
            sa.select(attempts.c.number, attempts.c.attempted_at, attempts.c.status_code,
                      attempts.c.duration_ms, attempts.c.error, attempts.c.worker)
            .where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.id)
        ).all()
    return DeliveryView(*found), [
        {"number": a.number, "attempted_at": rfc3339(a.attempted_at, "seconds"),
         "status": a.status_code, "duration_ms": round(a.duration_ms, 1), "error": a.error,
         "worker": a.worker}
        for a in logged
    ]


def requeue(
    engine: Engine, *, now: dt.datetime, ids: Collection[int] = (),
    since: dt.datetime | None = None, subscriber_id: str | None = None,
    states: Collection[str] = ("dead",),
) -> int:
    """Make deliveries due now with a fresh retry schedule (same event, same ``webhook-id``).

    ``retry`` passes ids of dead deliveries; ``replay`` passes ``since`` and every state, to
    send again what a receiver lost.
    """
    d = deliveries.c
    query = deliveries.update().where(d.state.in_(list(states)))
    if ids:
        query = query.where(d.id.in_(list(ids)))
    if since is not None:
        query = query.where(d.created_at >= since)
    if subscriber_id is not None:
        query = query.where(d.subscriber_id == subscriber_id)
    with engine.begin() as conn:
        result = conn.execute(query.values(
            state="pending", attempts=0, due_at=now, claimed_until=None, claimed_by=None,
        ))
    return int(result.rowcount)
