"""The delivery queue: due deliveries claimed with a lease, attempts recorded, claims given back.

A delivery is claimed before it is sent (:func:`claim`): the claim is a lease, so a worker
that dies leaves its deliveries to be claimed again once ``claimed_until`` passes, and they
are sent again with the same ``webhook-id``. :func:`record` logs every attempt and settles
the delivery (delivered, due again, or dead) and its subscriber's health in one transaction;
:func:`release` gives back what a stopping worker claimed but did not send. Several workers
may share the queue: on PostgreSQL they skip each other's rows (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..store import (
    SealedText,
    UTCDateTime,
    any_of,
    attempts,
    deliveries,
    events,
    naive_utc,
    subscribers,
)
from . import subscribers as subs
from .events import VERIFY_EVENT

State = Literal["pending", "delivered", "dead"]
Lane = Literal["webhook", "websub"]
WEBSUB_EVENT = "websub.content"
"""The event type of WebSub content distributions (``websub.CONTENT_EVENT``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """A claimed delivery, with everything needed to send it."""

    delivery_id: int
    event_id: str
    """The ``webhook-id``: the same on every attempt and replay."""
    event_type: str
    subscriber_id: str
    url: str
    secrets: tuple[str, ...] = dataclasses.field(repr=False)
    """Signing secrets: kept out of ``repr`` so a logged or raised job never shows them."""
    body: bytes
    attempt: int
    """Number of this attempt, from 1."""
    topic: str | None = None
    """WebSub content distribution: the feed URL the body is the new version of."""


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one attempt and what the retry policy decided."""

    claim: Claim
    attempted_at: dt.datetime
    status: int | None
    duration_ms: float
    error: str | None
    state: State
    due_at: dt.datetime
    """When to try again (meaningful for ``pending``)."""
    disable: str | None = None
    """Disable the subscriber, for this reason."""
    verified: bool = False
    """An ``endpoint.verify`` challenge was echoed: activate the subscriber."""
    response: str | None = None
    """The first bytes of the answer's body, kept with the attempt for partners to read."""


def claim(
    engine: Engine,
    *,
    now: dt.datetime,
    limit: int,
    lease_until: dt.datetime,
    worker: str,
    room: Mapping[str, int],
    cap: int,
    subscriber_id: str | None = None,
    bodies: MutableMapping[str, tuple[str, str | None]] | None = None,
    lane: Lane | None = None,
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries, at most ``room.get(sub, cap)`` per subscriber.

    Due deliveries are taken in ``(due_at, id)`` order; a subscriber's are skipped once it
    has no room left, so one slow receiver never holds the others' deliveries. A claim is a
    lease: if the worker dies, the delivery is due again once ``claimed_until`` passes.
    ``bodies`` caches event bodies across calls (they never change once written).
    ``lane`` takes only partner webhooks (``"webhook"``) or only WebSub distributions
    (``"websub"``): the worker claims each in its own lane, so neither waits for the other.

    On PostgreSQL the claim is one statement (:data:`_PG_CLAIM`), run outside a
    transaction block: one round trip to the server whatever the batch size. Elsewhere it
    is a select, an update and a lookup of the endpoints in one transaction.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            claimed = _claim_postgresql(conn, now, limit, lease_until, worker, room, cap,
                                        subscriber_id, lane)
            cache = _load_bodies(conn, {row.event_id for row in claimed}, bodies)
    else:
        with engine.begin() as conn:
            claimed = _claim_rows(conn, now, limit, lease_until, worker, room, cap,
                                  subscriber_id, lane)
            cache = _load_bodies(conn, {row.event_id for row in claimed}, bodies)
    jobs = []
    for item in sorted(claimed, key=lambda row: (row.due_at, row.id)):
        keys: tuple[str, ...] = (item.secret,)
        until = item.previous_secret_until
        if item.previous_secret and until and now < until:
            keys = (item.secret, item.previous_secret)
        thin, full = cache[item.event_id]
        body = full if item.full and full else thin
        jobs.append(Claim(
            item.id, item.event_id, item.event_type, item.subscriber_id, item.url, keys,
            body.encode("utf-8"), item.attempts + 1, item.topic,
        ))
    return jobs


_PG_CLAIMABLE = """
    SELECT d.id, d.subscriber_id, d.due_at
    FROM deliveries AS d
    WHERE d.state = 'pending' AND {lease} AND d.due_at <= :now
      AND (d.subscriber_id IN (SELECT id FROM receiving WHERE status = 'active')
           OR (d.event_type = :verify
               AND d.subscriber_id IN (SELECT id FROM receiving WHERE status = 'pending')))
      {only}{lane}
    ORDER BY {order}
    LIMIT :scan
    FOR UPDATE OF d SKIP LOCKED"""
_PG_CLAIM_TEXT = """
WITH receiving AS MATERIALIZED (
    SELECT id, status FROM subscribers
    WHERE status IN ('active', 'pending')
      AND (lease_expires_at IS NULL OR lease_expires_at > :now)
      AND id <> ALL(ARRAY(SELECT json_array_elements_text(CAST(:full AS json))))
), ready AS ({ready}
), expired AS ({expired}
), candidate AS (
    SELECT * FROM ready UNION ALL SELECT * FROM expired
), ranked AS (
    SELECT c.id, c.due_at,
           row_number() OVER (PARTITION BY c.subscriber_id ORDER BY c.due_at, c.id) AS n,
           COALESCE(CAST(r.value AS integer), :cap) AS free
    FROM candidate AS c
    LEFT JOIN json_each_text(CAST(:room AS json)) AS r ON r.key = c.subscriber_id
), chosen AS (
    SELECT id FROM ranked WHERE n <= free ORDER BY due_at, id LIMIT :limit
)
UPDATE deliveries AS d SET claimed_until = :lease_until, claimed_by = :worker
FROM chosen, subscribers AS s
WHERE d.id = chosen.id AND s.id = d.subscriber_id
RETURNING d.id, d.event_id, d.event_type, d.subscriber_id, d.attempts, d."full", d.due_at,
          s.url, s.secret, s.previous_secret, s.previous_secret_until, s.topic
"""


_LANES = {None: "", "webhook": "\n      AND d.event_type <> :websub",
          "websub": "\n      AND d.event_type = :websub"}


@functools.cache
def _pg_claim_statement(only: bool, lane: Lane | None = None) -> sa.TextualSelect:
    subscriber = "AND d.subscriber_id = :only" if only else ""
    text = _PG_CLAIM_TEXT.format(
        ready=_PG_CLAIMABLE.format(lease="d.claimed_until IS NULL", order="d.due_at, d.id",
                                   only=subscriber, lane=_LANES[lane]),
        expired=_PG_CLAIMABLE.format(
            lease="d.claimed_until IS NOT NULL AND d.claimed_until <= :now",
            order="d.claimed_until", only=subscriber, lane=_LANES[lane]),
    )
    return sa.text(text).bindparams(
        sa.bindparam("now", type_=UTCDateTime), sa.bindparam("lease_until", type_=UTCDateTime),
    ).columns(due_at=UTCDateTime, previous_secret_until=UTCDateTime, secret=SealedText,
              previous_secret=SealedText)


_PG_CLAIM = _pg_claim_statement(only=False)
"""The claim on PostgreSQL, in one statement: the subscribers that may receive (active, or
pending for their verification; not full, WebSub lease running); the due deliveries nobody
holds, walked in claim order (``ix_deliveries_ready``, migration 0005), and the leases that
expired (``ix_deliveries_leased``: a worker died), locked with ``SKIP LOCKED`` so concurrent
workers pass over each other's rows; each subscriber's ranked, those within its room kept
and the first ``limit`` of those in ``(due_at, id)`` order leased (which takes them out of
the ready index) and returned with their endpoints. Rows locked but not chosen are free
again when the statement ends.

Only ``deliveries`` is in the walks' ``FROM``, the subscribers being hashed sets, so the
plan stays an ordered index walk that stops at ``:scan`` rows whatever the planner believes
of the subscribers table (never analyzed, it estimated one subscriber and chose to fetch and
sort every due delivery). Its text is constant (no ``IN`` lists: the rooms travel as JSON),
so psycopg prepares it once per connection."""
_PG_CLAIM_ONE = _pg_claim_statement(only=True)
"""As :data:`_PG_CLAIM`, for one subscriber's deliveries only."""


def _claim_postgresql(
    conn: Connection, now: dt.datetime, limit: int, lease_until: dt.datetime, worker: str,
    room: Mapping[str, int], cap: int, subscriber_id: str | None, lane: Lane | None = None,
) -> Sequence[Any]:
    """The claim on PostgreSQL: rows of :data:`_PG_CLAIM` (fields as :class:`_Claimed`)."""
    params: dict[str, Any] = {
        "now": now, "lease_until": lease_until, "worker": worker, "verify": VERIFY_EVENT,
        "full": json.dumps([sid for sid, free in room.items() if free <= 0]),
        "room": json.dumps(room),
        "cap": cap, "limit": limit, "scan": limit * 2,
    }
    if lane is not None:
        params["websub"] = WEBSUB_EVENT
    if subscriber_id is not None:
        params["only"] = subscriber_id
    return conn.execute(_pg_claim_statement(subscriber_id is not None, lane), params).all()


def _claim_rows(
    conn: Connection, now: dt.datetime, limit: int, lease_until: dt.datetime, worker: str,
    room: Mapping[str, int], cap: int, subscriber_id: str | None, lane: Lane | None = None,
) -> Sequence[_Claimed]:
    """The claim in a select, an update and a lookup (SQLite: one writer at a time)."""
    d, s = deliveries.c, subscribers.c
    dialect = conn.dialect.name
    chosen = _choose(conn, now, limit, room, cap, subscriber_id, lane)
    if not chosen:
        return []
    # Re-check the lease by primary key only: with the due-time condition too, SQLite would
    # pick the due index and scan every due delivery.
    claimed = conn.execute(
        deliveries.update()
        .where(any_of(d.id, chosen, dialect))
        .where(d.state == "pending")
        .where(sa.or_(d.claimed_until.is_(None), d.claimed_until <= now))
        .values(claimed_until=lease_until, claimed_by=worker)
        .returning(d.id, d.event_id, d.event_type, d.subscriber_id, d.attempts, d.full,
                   d.due_at)
    ).all()
    if not claimed:
        return []
    endpoints = {
        row.id: row for row in conn.execute(
            sa.select(s.id, s.url, s.secret, s.previous_secret, s.previous_secret_until, s.topic)
            .where(any_of(s.id, {row.subscriber_id for row in claimed}, dialect))
        )
    }
    return [_Claimed(row.id, row.event_id, row.event_type, row.subscriber_id, row.attempts,
                     row.full, row.due_at, *endpoints[row.subscriber_id][1:])
            for row in claimed]


def _choose(
    conn: Connection, now: dt.datetime, limit: int, room: Mapping[str, int], cap: int,
    subscriber_id: str | None, lane: Lane | None = None,
) -> list[int]:
    """Up to ``limit`` due deliveries in claim order, skipping a subscriber's once it has no
    room left: the same walk as :data:`_PG_CLAIM`, in Python."""
    d, s = deliveries.c, subscribers.c
    full_subscribers = [sid for sid, free in room.items() if free <= 0]
    query = (
        sa.select(d.id, d.subscriber_id)
        .join(subscribers, s.id == d.subscriber_id)
        .where(d.state == "pending", d.due_at <= now,
               sa.or_(d.claimed_until.is_(None), d.claimed_until <= now))
        .where(sa.or_(s.status == "active",
                      sa.and_(s.status == "pending", d.event_type == VERIFY_EVENT)))
        .where(sa.or_(s.lease_expires_at.is_(None), s.lease_expires_at > now))
        .order_by(d.due_at, d.id)
        .limit(limit * 2)
    )
    if full_subscribers:
        query = query.where(
            sa.not_(any_of(d.subscriber_id, full_subscribers, conn.dialect.name)))
    if subscriber_id is not None:
        query = query.where(d.subscriber_id == subscriber_id)
    if lane == "webhook":
        query = query.where(d.event_type != WEBSUB_EVENT)
    elif lane == "websub":
        query = query.where(d.event_type == WEBSUB_EVENT)
    taken: dict[str, int] = {}
    chosen: list[int] = []
    for row in conn.execute(query):
        if taken.get(row.subscriber_id, 0) >= room.get(row.subscriber_id, cap):
            continue
        taken[row.subscriber_id] = taken.get(row.subscriber_id, 0) + 1
        chosen.append(row.id)
        if len(chosen) >= limit:
            break
    return chosen


class _Claimed(NamedTuple):
    """A claimed delivery with its endpoint, as :data:`_PG_CLAIM` returns it."""

    id: int
    event_id: str
    event_type: str
    subscriber_id: str
    attempts: int
    full: bool
    due_at: dt.datetime
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_until: dt.datetime | None
    topic: str | None


def _load_bodies(
    conn: Connection, event_ids: set[str],
    bodies: MutableMapping[str, tuple[str, str | None]] | None,
) -> MutableMapping[str, tuple[str, str | None]]:
    """The (thin, full) bodies of ``event_ids``, from ``bodies`` or the store (cached)."""
    cache = bodies if bodies is not None else {}
    missing = event_ids - cache.keys()
    if missing:
        if len(cache) > 10_000:
            cache.clear()
        for event in conn.execute(
            sa.select(events.c.id, events.c.payload, events.c.full_payload)
            .where(any_of(events.c.id, missing, conn.dialect.name))
        ):
            cache[event.id] = (event.payload, event.full_payload)
    return cache


def record(
    engine: Engine, results: Sequence[Decision], *, now: dt.datetime, worker: str,
    disable_after: dt.timedelta,
) -> None:
    """Log every attempt, settle the deliveries and the subscribers' health, atomically.

    On PostgreSQL a batch of successes (the common case) is one statement outside a
    transaction block (:data:`_PG_RECORD`); failures, verifications and disabling add the
    subscriber bookkeeping in one transaction with it.
    """
    if not results:
        return
    if engine.dialect.name == "postgresql":
        simple = all(r.state == "delivered" and not r.verified for r in results)
        if simple:
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                _record_postgresql(conn, results, worker)
            return
        with engine.begin() as conn:
            _record_postgresql(conn, results, worker)
            _settle(conn, results, now, disable_after, recovered=False)
        return
    with engine.begin() as conn:
        _record_rows(conn, results, worker)
        _settle(conn, results, now, disable_after)


def _record_rows(conn: Connection, results: Sequence[Decision], worker: str) -> None:
    """The attempts and the deliveries' new state: one executemany of each statement."""
    d = deliveries.c
    conn.execute(attempts.insert(), [
        {
            "delivery_id": r.claim.delivery_id, "number": r.claim.attempt,
            "attempted_at": r.attempted_at, "status_code": r.status,
            "duration_ms": r.duration_ms, "error": r.error, "worker": worker,
            "response": r.response,
        }
        for r in results
    ])
    conn.execute(
        deliveries.update()
        .where(d.id == sa.bindparam("b_id"))
        .where(d.claimed_by == worker)
        .values(
            state=sa.bindparam("b_state"), attempts=sa.bindparam("b_attempts"),
            due_at=sa.bindparam("b_due"), delivered_at=sa.bindparam("b_delivered"),
            last_status=sa.bindparam("b_status"), last_error=sa.bindparam("b_error"),
            claimed_until=None, claimed_by=None,
        ),
        [
            {
                "b_id": r.claim.delivery_id, "b_state": r.state, "b_attempts": r.claim.attempt,
                "b_due": r.due_at, "b_status": r.status, "b_error": r.error,
                "b_delivered": r.attempted_at if r.state == "delivered" else None,
            }
            for r in results
        ],
    )


_PG_RECORD = sa.text(f"""
WITH v AS (
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS v(
        id integer, number integer, attempted_at timestamp, status_code integer,
        duration_ms float8, error text, state varchar, due_at timestamp, delivered_at timestamp,
        response text)
), logged AS (
    INSERT INTO delivery_attempts
        (delivery_id, number, attempted_at, status_code, duration_ms, error, worker, response)
    SELECT id, number, attempted_at, status_code, duration_ms, error, CAST(:worker AS varchar),
        response
    FROM v
), settled AS (
    UPDATE deliveries AS d
    SET state = v.state, attempts = v.number, due_at = v.due_at,
        delivered_at = v.delivered_at, last_status = v.status_code, last_error = v.error,
        claimed_until = NULL, claimed_by = NULL
    FROM v
    WHERE d.id = v.id AND d.claimed_by = CAST(:worker AS varchar)
)
{subs.PG_RECOVERED}
""")
"""The record on PostgreSQL, in one statement: the attempts logged, the deliveries settled
(only those this worker still holds) and the subscribers that answered with a 2xx no longer
failing (:data:`syndicate.webhooks.subscribers.PG_RECOVERED`). The rows travel as one JSON
document (encoded in C; psycopg's array parameters
cost several times more per row), and the text never changes, so psycopg prepares it once
per connection and the server plans and runs it once per batch."""


def _settle(conn: Connection, results: Sequence[Decision], now: dt.datetime,
            disable_after: dt.timedelta, *, recovered: bool = True) -> None:
    """The subscribers' health after a batch (:func:`syndicate.webhooks.subscribers.settle`);
    ``recovered`` false: :data:`_PG_RECORD` ended the failing streaks already."""
    delivered = {r.claim.subscriber_id for r in results if r.state == "delivered"}
    subs.settle(
        conn, now=now, disable_after=disable_after,
        delivered=delivered if recovered else set(),
        failed={r.claim.subscriber_id for r in results if r.state != "delivered"} - delivered,
        verified={r.claim.subscriber_id for r in results if r.verified},
        disable={r.claim.subscriber_id: r.disable for r in results if r.disable},
    )


def _iso(value: dt.datetime) -> str:
    """An aware datetime as PostgreSQL reads a ``timestamp`` from JSON: what
    :class:`~syndicate.store.UTCDateTime` stores (raw SQL bypasses that type)."""
    return naive_utc(value).isoformat()


def _record_postgresql(conn: Connection, results: Sequence[Decision], worker: str) -> None:
    """As :func:`_record_rows`, and the recovered subscribers, with :data:`_PG_RECORD`."""
    rows = [
        {
            "id": r.claim.delivery_id, "number": r.claim.attempt,
            "attempted_at": _iso(r.attempted_at), "status_code": r.status,
            "duration_ms": float(r.duration_ms), "error": r.error, "state": r.state,
            "due_at": _iso(r.due_at),
            "delivered_at": _iso(r.attempted_at) if r.state == "delivered" else None,
            "response": r.response,
        }
        for r in results
    ]
    recovered = sorted({r.claim.subscriber_id for r in results if r.state == "delivered"})
    conn.execute(_PG_RECORD, {"rows": json.dumps(rows), "recovered": json.dumps(recovered),
                              "worker": worker})


def release(engine: Engine, delivery_ids: Iterable[int], worker: str) -> None:
    """Give back claims that were not attempted (a worker stopping early)."""
    ids = list(delivery_ids)
    if ids:
        with engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id.in_(ids))
                         .where(deliveries.c.claimed_by == worker)
                         .values(claimed_until=None, claimed_by=None))
