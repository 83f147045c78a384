"""The transactional outbox: what is published, the events announcing it, and their
deliveries, written in one transaction.

A sync (:mod:`syndicate.sync`) stores here, in its own transaction, the rendition each
language publishes now (``renditions``), one event per change (``events``) and one delivery
per subscriber that wants the event (``deliveries``): a sync that fails or is killed before
its commit leaves nothing behind, and a re-run computes the same event ids (they derive from
the change, :func:`syndicate.webhooks.events.event_id`), which are stored once. Verification
challenges, disable notices and WebSub content are events with deliveries too
(:func:`add_event`, :func:`add_deliveries`). Sending is the queue's business
(:mod:`syndicate.webhooks.queue`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..answers import Rendition
from ..store import deliveries, events, insert_ignoring_duplicates, renditions
from .events import (
    Change,
    ChangeSet,
    StoredRendition,
    encode,
    payloads,
    random_event_id,
    reminder_payloads,
)


class Recipient(Protocol):
    """A subscriber, as far as queueing an event for it goes."""

    @property
    def id(self) -> str:
        """The subscriber's id."""

    @property
    def full(self) -> bool:
        """Whether it is sent the whole rendition."""

    def wants(self, event_type: str, language: str | None, condition: str | None) -> bool:
        """Whether an event passes its filters."""


def load_stored(conn: Connection) -> dict[tuple[str, str], StoredRendition]:
    """Every stored rendition, by (answer, language)."""
    found: dict[tuple[str, str], StoredRendition] = {}
    for row in conn.execute(sa.select(renditions)):
        found[(row.answer_id, row.language)] = StoredRendition(
            rendition=Rendition.from_dict(json.loads(row.rendition)),
            version=row.version,
            content_hash=row.content_hash,
            withdrawn=bool(row.withdrawn),
            source_path=row.source_path,
            first_published=row.first_published,
        )
    return found


def record_changes(
    conn: Connection, changes: ChangeSet, *, base_url: str, now: dt.datetime
) -> list[dict[str, Any]]:
    """Store every change's rendition and its event; the events that were new to the store
    (a re-run of the same sync finds every one of them already there), without their
    bodies.

    Bodies carry the whole rendition: they are written a few hundred at a time, so a first
    sync of ten thousand renditions never holds them all."""
    # Ids first: a reminder is announced once per due date, so most reminders a sync finds
    # were announced before; their bodies are built only for the events the store does not
    # hold yet.
    change_ids = [change.event_id for change in changes.changes]
    reminder_ids = [reminder.event_id for reminder in changes.reminders]
    existing = _existing(conn, change_ids + reminder_ids)
    batch = _EventBatch(conn, now)
    for change, event_id in zip(changes.changes, change_ids, strict=True):
        _store_change(conn, change, now)
        if event_id not in existing:
            batch.add(event_id, change.type, change.rendition,
                      payloads(change, base_url, now))
    for reminder, event_id in zip(changes.reminders, reminder_ids, strict=True):
        if event_id not in existing:  # once each: the id derives from the due date
            batch.add(event_id, reminder.type, reminder.rendition,
                      reminder_payloads(reminder, base_url, now))
    return batch.flush()


class _EventBatch:
    """Event rows written :data:`CHUNK` at a time; what is kept of each is all but its
    bodies."""

    def __init__(self, conn: Connection, now: dt.datetime) -> None:
        self.conn = conn
        self.now = now
        self.pending: list[dict[str, Any]] = []
        self.written: list[dict[str, Any]] = []

    def add(self, event_id: str, event_type: str, rendition: Rendition,
            bodies: tuple[str, str]) -> None:
        row = {"id": event_id, "type": event_type, "answer_id": rendition.answer_id,
               "language": rendition.language, "condition_slug": rendition.condition_slug,
               "subscriber_id": None, "created_at": self.now}
        self.written.append(row)
        self.pending.append(dict(row, payload=bodies[0], full_payload=bodies[1]))
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> list[dict[str, Any]]:
        """Write what is pending; every row written so far."""
        if self.pending:
            self.conn.execute(insert_ignoring_duplicates(self.conn, events), self.pending)
            self.pending = []
        return self.written


CHUNK = 500
"""Ids per ``IN (...)`` query: far below SQLite's and PostgreSQL's parameter limits."""


def _existing(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the events table already holds."""
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        found.update(conn.execute(sa.select(events.c.id).where(events.c.id.in_(chunk))).scalars())
    return found


def _store_change(conn: Connection, change: Change, now: dt.datetime) -> None:
    rendition = change.rendition
    values = {
        "version": change.version,
        "content_hash": rendition.content_hash,
        "source_hash": rendition.source_hash,
        "reviewed": rendition.reviewed,
        "source_reviewed": rendition.source_reviewed,
        "review_due": rendition.review_due,
        "stale": rendition.stale,
        "withdrawn": change.withdrawn,
        "condition_slug": rendition.condition_slug,
        "title": rendition.title,
        "rendition": encode(rendition.to_dict()),
        "source_path": change.source_path,
        "updated": now,
    }
    if change.previous is None:
        conn.execute(
            renditions.insert().values(
                answer_id=change.answer_id, language=change.language, first_published=now,
                **values,
            )
        )
    else:
        conn.execute(
            renditions.update()
            .where(renditions.c.answer_id == change.answer_id)
            .where(renditions.c.language == change.language)
            .values(values)
        )


def _delivery(event_id: str, event_type: str, subscriber_id: str, full: bool,
              now: dt.datetime) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event_type, "subscriber_id": subscriber_id,
            "full": full, "state": "pending", "attempts": 0, "due_at": now, "created_at": now}


def enqueue(
    conn: Connection, new_events: Sequence[Mapping[str, Any]], recipients: Iterable[Recipient],
    now: dt.datetime,
) -> int:
    """One delivery per (event, recipient whose filters it passes); the number made."""
    if not new_events:
        return 0
    targets = list(recipients)
    made = 0
    rows: list[dict[str, Any]] = []
    for event in new_events:  # written a few thousand at a time, never all held at once
        rows += [_delivery(event["id"], event["type"], s.id, s.full, now) for s in targets
                 if s.wants(event["type"], event["language"], event["condition_slug"])]
        if len(rows) >= CHUNK * 10:
            conn.execute(insert_ignoring_duplicates(conn, deliveries), rows)
            made, rows = made + len(rows), []
    if rows:
        conn.execute(insert_ignoring_duplicates(conn, deliveries), rows)
    return made + len(rows)


def add_event(
    conn: Connection, event_type: str, payload: str, now: dt.datetime, *,
    subscriber_id: str | None = None,
) -> str:
    """Store an event that is not an answer's change (a challenge, a notice, a feed body)
    under a new random id; that id."""
    event_id = random_event_id()
    conn.execute(events.insert().values(
        id=event_id, type=event_type, subscriber_id=subscriber_id, created_at=now,
        payload=payload,
    ))
    return event_id


def add_deliveries(
    conn: Connection, event_id: str, event_type: str, subscriber_ids: Iterable[str],
    now: dt.datetime,
) -> int:
    """Queue ``event_id`` for each of ``subscriber_ids``, due now; how many."""
    rows = [_delivery(event_id, event_type, sid, False, now) for sid in subscriber_ids]
    if rows:
        conn.execute(deliveries.insert(), rows)
    return len(rows)
