"""Catching up after downtime: the event log by cursor, and every published answer.

:func:`changes` lists answer events (the ones webhooks carry) in the order they were recorded,
after an opaque cursor; its ``next`` cursor is where to continue. A cursor encodes the events'
``seq`` (an auto-incremented key that only grows), so paging is stable: an event is listed
once, in the same position, however the pages are cut and whatever happens meanwhile. Only one
sync writes events at a time (the scheduler runs one), so ``seq`` order is commit order.

:func:`answers` lists every answer published now, per language, with its review dates and
URLs, from the stored renditions.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..errors import CursorError
from ..publication import feed_urls
from ..store import events, renditions
from ..webhooks import ANSWER_EVENTS

MAX_LIMIT = 1000
_CURSOR_PREFIX = "c1:"


def encode_cursor(seq: int) -> str:
    """The opaque cursor after event ``seq``."""
    raw = f"{_CURSOR_PREFIX}{seq}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The event position a cursor stands after; :class:`CursorError` if it is not ours."""
    if not cursor or len(cursor) > 40:
        raise CursorError("not a cursor from this service")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CursorError("not a cursor from this service") from exc
    number = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not number.isdigit() or len(number) > 18:
        raise CursorError("not a cursor from this service")
    return int(number)


@dataclasses.dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of the event log."""

    changes: tuple[dict[str, Any], ...]
    next: str
    """Cursor to ask for the following page (the same one when nothing is new)."""
    more: bool
    """Whether more events are already waiting after ``next``."""


def changes(
    engine: Engine,
    *,
    since: int = 0,
    language: str | None = None,
    condition: str | None = None,
    event_type: str | None = None,
    limit: int = 100,
) -> ChangePage:
    """Answer events after position ``since``, oldest first, filtered, at most ``limit``."""
    e = events.c
    limit = max(1, min(limit, MAX_LIMIT))
    query = (
        sa.select(e.seq, e.id, e.type, e.answer_id, e.language, e.condition_slug, e.created_at,
                  e.payload)
        .where(e.seq > since).where(e.type.in_(ANSWER_EVENTS))
        .order_by(e.seq).limit(limit + 1)
    )
    if language:
        query = query.where(e.language == language)
    if condition:
        query = query.where(e.condition_slug == condition)
    if event_type:
        query = query.where(e.type == event_type)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    found = tuple(
        {
            "id": row.id,
            "type": row.type,
            "answer_id": row.answer_id,
            "language": row.language,
            "condition": row.condition_slug,
            "created_at": rfc3339(row.created_at, "seconds"),
            "data": json.loads(row.payload).get("data", {}),
            "cursor": encode_cursor(row.seq),
        }
        for row in rows
    )
    last = rows[-1].seq if rows else since
    return ChangePage(found, encode_cursor(last), more)


def answers(engine: Engine, base_url: str, *, language: str | None = None) -> list[dict[str, Any]]:
    """Every answer published now (per language), with review dates and URLs."""
    r = renditions.c
    query = (
        sa.select(r.answer_id, r.language, r.condition_slug, r.title, r.reviewed,
                  r.source_reviewed, r.review_due, r.stale, r.version, r.content_hash,
                  r.first_published, r.updated, r.rendition)
        .where(r.withdrawn.is_(False)).order_by(r.language, r.answer_id)
    )
    if language:
        query = query.where(r.language == language)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = []
    for row in rows:
        stored = json.loads(row.rendition)
        found.append({
            "answer_id": row.answer_id,
            "language": row.language,
            "condition": row.condition_slug,
            "question": row.title,
            "reviewed": row.reviewed.isoformat(),
            "source_reviewed": row.source_reviewed.isoformat(),
            "review_due": row.review_due.isoformat() if row.review_due else None,
            "stale": bool(row.stale),
            "version": row.version,
            "content_hash": row.content_hash,
            "url": stored.get("url"),
            "feeds": feed_urls(base_url, row.language),
            "first_published": rfc3339(row.first_published, "seconds"),
            "updated": rfc3339(row.updated, "seconds"),
        })
    return found
