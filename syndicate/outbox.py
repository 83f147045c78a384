"""The transactional outbox: state changes, events and deliveries written together.

:func:`sync` stores the new rendition state, the events announcing it and one delivery per
matching subscriber in a single transaction; a sync that fails or is killed before the commit
leaves nothing behind, and re-running it computes the same event ids (duplicates are dropped
by the unique constraints). The delivery worker then :func:`claim`\\ s due deliveries with a
lease (a killed worker's claims expire and are taken again, same ``webhook-id``) and
:func:`record`\\ s every attempt. Operators list, retry and replay deliveries here too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from . import events as ev
from . import subscribers as subs
from .config import Settings
from .localize import Rendition
from .pipeline import Localization, Progress, localize_corpus
from .publish import BuildResult, publish
from .store import (
    UTCDateTime,
    attempts,
    deliveries,
    events,
    naive_utc,
    renditions,
    subscribers,
)

if TYPE_CHECKING:
    from .metrics import Metrics

State = Literal["pending", "delivered", "dead"]
Publisher = Callable[[ev.Plan], object]
"""Called inside the sync transaction with what to publish; raising rolls the sync back."""


@dataclasses.dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync stored and enqueued."""

    plan: ev.Plan
    events: tuple[str, ...]
    """Ids of the events enqueued by this run."""
    deliveries: int


def load_stored(conn: Connection) -> dict[tuple[str, str], ev.StoredRendition]:
    """Every stored rendition, by (answer, language)."""
    found: dict[tuple[str, str], ev.StoredRendition] = {}
    for row in conn.execute(sa.select(renditions)):
        found[(row.answer_id, row.language)] = ev.StoredRendition(
            rendition=Rendition.from_dict(json.loads(row.rendition)),
            version=row.version,
            content_hash=row.content_hash,
            withdrawn=bool(row.withdrawn),
            source_path=row.source_path,
            first_published=row.first_published,
        )
    return found


def _insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, silently skipping those that violate a unique constraint."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).on_conflict_do_nothing(), rows)
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)
    else:  # pragma: no cover - SQLite and PostgreSQL are the supported backends
        conn.execute(table.insert(), rows)


def _store_change(conn: Connection, change: ev.Change, now: dt.datetime) -> None:
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
        "rendition": ev.encode(rendition.to_dict()),
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


def sync(
    engine: Engine,
    localization: Localization,
    *,
    now: dt.datetime,
    base_url: str,
    publish: Publisher | None = None,
    distribute: Callable[[Connection, object], int] | None = None,
) -> SyncResult:
    """Diff, store the state, enqueue events and deliveries, publish: all or nothing.

    ``distribute`` is called in the same transaction with what ``publish`` returned, to queue
    deliveries of the published files themselves (WebSub content distribution).
    """
    with engine.begin() as conn:
        plan = ev.diff(localization, load_stored(conn), now)
        rows: list[dict[str, Any]] = []
        for change in plan.changes:
            _store_change(conn, change, now)
            thin, full = ev.payloads(change, base_url, now)
            rows.append({
                "id": change.event_id, "type": change.type, "answer_id": change.answer_id,
                "language": change.language, "condition_slug": change.rendition.condition_slug,
                "subscriber_id": None, "created_at": now, "payload": thin, "full_payload": full,
            })
        ids = [row["id"] for row in rows]
        existing = set(
            conn.execute(sa.select(events.c.id).where(events.c.id.in_(ids))).scalars()
        ) if ids else set()
        fresh = [row for row in rows if row["id"] not in existing]
        _insert_ignore(conn, events, fresh)
        count = enqueue(conn, fresh, now)
        if publish is not None:
            published = publish(plan)
            if distribute is not None:
                count += distribute(conn, published)
    return SyncResult(plan, tuple(row["id"] for row in fresh), count)


def sync_and_publish(
    engine: Engine, settings: Settings, *, now: dt.datetime, progress: Progress | None = None,
    metrics: Metrics | None = None,
) -> SyncResult:
    """Localize ``settings``' content, then :func:`sync` with the publication tree written
    inside the transaction: the feeds show exactly what the store records, stale renditions
    included, and a failed write rolls the whole sync back. Rewritten feeds are queued for
    their WebSub subscribers in the same transaction; ``metrics`` gets the build time."""
    from . import websub

    started = time.perf_counter()
    localization = localize_corpus(settings, progress=progress)

    def publish_plan(plan: ev.Plan) -> object:
        return publish(settings, dataclasses.replace(localization, renditions=plan.renditions))

    def distribute(conn: Connection, published: object) -> int:
        written = published.written if isinstance(published, BuildResult) else ()
        return websub.enqueue_feed_updates(conn, settings, written, now)

    result = sync(engine, localization, now=now, base_url=settings.base_url,
                  publish=publish_plan, distribute=distribute)
    if metrics is not None:
        metrics.observe_feed_build(time.perf_counter() - started)
    return result


def enqueue(conn: Connection, new_events: Sequence[Mapping[str, Any]], now: dt.datetime) -> int:
    """One delivery per (event, matching active or paused subscriber); the number made."""
    if not new_events:
        return 0
    targets = [s for s in subs.list_all(conn) if s.status in ("active", "paused")]
    rows = [
        {
            "event_id": event["id"], "event_type": event["type"], "subscriber_id": s.id,
            "full": s.full, "state": "pending", "attempts": 0, "due_at": now, "created_at": now,
        }
        for event in new_events
        for s in targets
        if s.wants(event["type"], event["language"], event["condition_slug"])
    ]
    _insert_ignore(conn, deliveries, rows)
    return len(rows)


# -- the worker's side ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
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
class Result:
    """The outcome of one attempt and what the retry policy decided."""

    job: Job
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


def _in(column: sa.ColumnElement[Any], values: Collection[Any], dialect: str
        ) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``column = ANY(:array)``, one statement text
    whatever the number of values, so psycopg's server-side prepared statements are reused
    instead of a new statement (and plan) for every list length."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type),
                                              unique=True))
    return column.in_(list(values))


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
) -> list[Job]:
    """Claim up to ``limit`` due deliveries, at most ``room.get(sub, cap)`` per subscriber.

    Due deliveries are taken in ``(due_at, id)`` order; a subscriber's are skipped once it
    has no room left, so one slow receiver never holds the others' deliveries. A claim is a
    lease: if the worker dies, the delivery is due again once ``claimed_until`` passes.
    ``bodies`` caches event bodies across calls (they never change once written).

    On PostgreSQL the claim is one statement (:data:`_PG_CLAIM`), run outside a
    transaction block: one round trip to the server whatever the batch size. Elsewhere it
    is a select, an update and a lookup of the endpoints in one transaction.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            claimed = _claim_postgresql(conn, now, limit, lease_until, worker, room, cap,
                                        subscriber_id)
            cache = _load_bodies(conn, {row.event_id for row in claimed}, bodies)
    else:
        with engine.begin() as conn:
            claimed = _claim_rows(conn, now, limit, lease_until, worker, room, cap,
                                  subscriber_id)
            cache = _load_bodies(conn, {row.event_id for row in claimed}, bodies)
    jobs = []
    for item in sorted(claimed, key=lambda row: (row.due_at, row.id)):
        keys: tuple[str, ...] = (item.secret,)
        until = item.previous_secret_until
        if item.previous_secret and until and now < until:
            keys = (item.secret, item.previous_secret)
        thin, full = cache[item.event_id]
        body = full if item.full and full else thin
        jobs.append(Job(
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
      {only}
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


def _pg_claim_statement(only: bool) -> sa.TextualSelect:
    subscriber = "AND d.subscriber_id = :only" if only else ""
    text = _PG_CLAIM_TEXT.format(
        ready=_PG_CLAIMABLE.format(lease="d.claimed_until IS NULL", order="d.due_at, d.id",
                                   only=subscriber),
        expired=_PG_CLAIMABLE.format(
            lease="d.claimed_until IS NOT NULL AND d.claimed_until <= :now",
            order="d.claimed_until", only=subscriber),
    )
    return sa.text(text).bindparams(
        sa.bindparam("now", type_=UTCDateTime), sa.bindparam("lease_until", type_=UTCDateTime),
    ).columns(due_at=UTCDateTime, previous_secret_until=UTCDateTime)


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
    room: Mapping[str, int], cap: int, subscriber_id: str | None,
) -> Sequence[Any]:
    """The claim on PostgreSQL: rows of :data:`_PG_CLAIM` (fields as :class:`_Claimed`)."""
    params: dict[str, Any] = {
        "now": now, "lease_until": lease_until, "worker": worker, "verify": ev.VERIFY_EVENT,
        "full": json.dumps([sid for sid, free in room.items() if free <= 0]),
        "room": json.dumps(room),
        "cap": cap, "limit": limit, "scan": limit * 2,
    }
    if subscriber_id is not None:
        params["only"] = subscriber_id
        return conn.execute(_PG_CLAIM_ONE, params).all()
    return conn.execute(_PG_CLAIM, params).all()


def _claim_rows(
    conn: Connection, now: dt.datetime, limit: int, lease_until: dt.datetime, worker: str,
    room: Mapping[str, int], cap: int, subscriber_id: str | None,
) -> Sequence[_Claimed]:
    """The claim in a select, an update and a lookup (SQLite: one writer at a time)."""
    d, s = deliveries.c, subscribers.c
    dialect = conn.dialect.name
    full_subscribers = [sid for sid, free in room.items() if free <= 0]
    query = (
        sa.select(d.id, d.subscriber_id)
        .join(subscribers, s.id == d.subscriber_id)
        .where(d.state == "pending", d.due_at <= now,
               sa.or_(d.claimed_until.is_(None), d.claimed_until <= now))
        .where(sa.or_(s.status == "active",
                      sa.and_(s.status == "pending", d.event_type == ev.VERIFY_EVENT)))
        .where(sa.or_(s.lease_expires_at.is_(None), s.lease_expires_at > now))
        .order_by(d.due_at, d.id)
        .limit(limit * 2)
    )
    if full_subscribers:
        query = query.where(sa.not_(_in(d.subscriber_id, full_subscribers, dialect)))
    if subscriber_id is not None:
        query = query.where(d.subscriber_id == subscriber_id)
    taken: dict[str, int] = {}
    chosen: list[int] = []
    for row in conn.execute(query):
        if taken.get(row.subscriber_id, 0) >= room.get(row.subscriber_id, cap):
            continue
        taken[row.subscriber_id] = taken.get(row.subscriber_id, 0) + 1
        chosen.append(row.id)
        if len(chosen) >= limit:
            break
    if not chosen:
        return []
    # Re-check the lease by primary key only: with the due-time condition too, SQLite would
    # pick the due index and scan every due delivery.
    claimed = conn.execute(
        deliveries.update()
        .where(_in(d.id, chosen, dialect))
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
            .where(_in(s.id, {row.subscriber_id for row in claimed}, dialect))
        )
    }
    found = []
    for row in claimed:
        endpoint = endpoints[row.subscriber_id]
        found.append(_Claimed(
            row.id, row.event_id, row.event_type, row.subscriber_id, row.attempts, row.full,
            row.due_at, endpoint.url, endpoint.secret, endpoint.previous_secret,
            endpoint.previous_secret_until, endpoint.topic,
        ))
    return found


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
            .where(_in(events.c.id, missing, conn.dialect.name))
        ):
            cache[event.id] = (event.payload, event.full_payload)
    return cache


def record(
    engine: Engine, results: Sequence[Result], *, now: dt.datetime, worker: str,
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
            _settle_subscribers(conn, results, now, disable_after, recovered=False)
        return
    with engine.begin() as conn:
        _record_rows(conn, results, worker)
        _settle_subscribers(conn, results, now, disable_after)


def _record_rows(conn: Connection, results: Sequence[Result], worker: str) -> None:
    """The attempts and the deliveries' new state: one executemany of each statement."""
    d = deliveries.c
    conn.execute(attempts.insert(), [
        {
            "delivery_id": r.job.delivery_id, "number": r.job.attempt,
            "attempted_at": r.attempted_at, "status_code": r.status,
            "duration_ms": r.duration_ms, "error": r.error, "worker": worker,
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
                "b_id": r.job.delivery_id, "b_state": r.state, "b_attempts": r.job.attempt,
                "b_due": r.due_at, "b_status": r.status, "b_error": r.error,
                "b_delivered": r.attempted_at if r.state == "delivered" else None,
            }
            for r in results
        ],
    )


_PG_RECORD = sa.text("""
WITH v AS (
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS v(
        id integer, number integer, attempted_at timestamp, status_code integer,
        duration_ms float8, error text, state varchar, due_at timestamp, delivered_at timestamp)
), logged AS (
    INSERT INTO delivery_attempts
        (delivery_id, number, attempted_at, status_code, duration_ms, error, worker)
    SELECT id, number, attempted_at, status_code, duration_ms, error, CAST(:worker AS varchar)
    FROM v
), settled AS (
    UPDATE deliveries AS d
    SET state = v.state, attempts = v.number, due_at = v.due_at,
        delivered_at = v.delivered_at, last_status = v.status_code, last_error = v.error,
        claimed_until = NULL, claimed_by = NULL
    FROM v
    WHERE d.id = v.id AND d.claimed_by = CAST(:worker AS varchar)
)
UPDATE subscribers SET failing_since = NULL
WHERE id IN (SELECT json_array_elements_text(CAST(:recovered AS json)))
  AND failing_since IS NOT NULL
""")
"""The record on PostgreSQL, in one statement: the attempts logged, the deliveries settled
(only those this worker still holds) and the subscribers that answered with a 2xx no longer
failing. The rows travel as one JSON document (encoded in C; psycopg's array parameters
cost several times more per row), and the text never changes, so psycopg prepares it once
per connection and the server plans and runs it once per batch."""


def _iso(value: dt.datetime) -> str:
    """An aware datetime as PostgreSQL reads a ``timestamp`` from JSON: what
    :class:`~syndicate.store.UTCDateTime` stores (raw SQL bypasses that type)."""
    return naive_utc(value).isoformat()


def _record_postgresql(conn: Connection, results: Sequence[Result], worker: str) -> None:
    """As :func:`_record_rows`, and the recovered subscribers, with :data:`_PG_RECORD`."""
    rows = [
        {
            "id": r.job.delivery_id, "number": r.job.attempt,
            "attempted_at": _iso(r.attempted_at), "status_code": r.status,
            "duration_ms": float(r.duration_ms), "error": r.error, "state": r.state,
            "due_at": _iso(r.due_at),
            "delivered_at": _iso(r.attempted_at) if r.state == "delivered" else None,
        }
        for r in results
    ]
    recovered = sorted({r.job.subscriber_id for r in results if r.state == "delivered"})
    conn.execute(_PG_RECORD, {"rows": json.dumps(rows), "recovered": json.dumps(recovered),
                              "worker": worker})


def _settle_subscribers(
    conn: Connection, results: Sequence[Result], now: dt.datetime, disable_after: dt.timedelta,
    *, recovered: bool = True,
) -> None:
    """Subscribers' health after a batch: a 2xx ends a failing streak (unless ``recovered``
    is false: :data:`_PG_RECORD` did it), a verification activates, a failure starts a
    streak, and a streak too long or a 410 disables."""
    s = subscribers.c
    dialect = conn.dialect.name
    ok = {r.job.subscriber_id for r in results if r.state == "delivered"}
    failed = {r.job.subscriber_id for r in results if r.state != "delivered"} - ok
    verified = {r.job.subscriber_id for r in results if r.verified}
    if ok and recovered:
        conn.execute(subscribers.update().where(_in(s.id, ok, dialect))
                     .where(s.failing_since.is_not(None)).values(failing_since=None))
    if verified:
        conn.execute(subscribers.update().where(_in(s.id, verified, dialect))
                     .where(s.status == "pending")
                     .values(status="active", verified_at=now, updated_at=now))
    if failed:
        conn.execute(subscribers.update().where(_in(s.id, failed, dialect))
                     .where(s.failing_since.is_(None))
                     .values(failing_since=now))
    reasons = {r.job.subscriber_id: r.disable for r in results if r.disable}
    too_long = conn.execute(
        sa.select(s.id, s.failing_since).where(_in(s.id, failed, dialect))
        .where(s.status == "active")
        .where(s.failing_since <= now - disable_after)
    ).all() if failed else []
    for row in too_long:
        reasons.setdefault(row.id, f"failing since {ev.timestamp(row.failing_since)}")
    for subscriber_id, reason in reasons.items():
        disable(conn, subscriber_id, reason, now)


def disable(conn: Connection, subscriber_id: str, reason: str, now: dt.datetime) -> None:
    """Disable a subscriber and record a ``subscriber.disabled`` event saying why."""
    s = subscribers.c
    changed = conn.execute(
        subscribers.update().where(s.id == subscriber_id).where(s.status != "disabled")
        .values(status="disabled", status_reason=reason, updated_at=now)
    ).rowcount
    if not changed:
        return
    url = conn.execute(sa.select(s.url).where(s.id == subscriber_id)).scalar_one()
    conn.execute(events.insert().values(
        id="msg_" + secrets.token_hex(16), type=ev.DISABLED_EVENT, subscriber_id=subscriber_id,
        created_at=now,
        payload=ev.encode({
            "type": ev.DISABLED_EVENT, "timestamp": ev.timestamp(now),
            "data": {"subscriber_id": subscriber_id, "url": url, "reason": reason},
        }),
    ))


def release(engine: Engine, delivery_ids: Iterable[int], worker: str) -> None:
    """Give back claims that were not attempted (a worker stopping early)."""
    ids = list(delivery_ids)
    if ids:
        with engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id.in_(ids))
                         .where(deliveries.c.claimed_by == worker)
                         .values(claimed_until=None, claimed_by=None))


# -- operators ------------------------------------------------------------------------------


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
            key: ev.timestamp(value) if isinstance(value, dt.datetime) else value
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
    """One delivery and its attempts; :class:`LookupError` if unknown."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(*_VIEW).where(deliveries.c.id == delivery_id)).first()
        if found is None:
            raise LookupError(f"no delivery {delivery_id}")
        logged = conn.execute(
            sa.select(attempts.c.number, attempts.c.attempted_at, attempts.c.status_code,
                      attempts.c.duration_ms, attempts.c.error, attempts.c.worker)
            .where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.id)
        ).all()
    return DeliveryView(*found), [
        {"number": a.number, "attempted_at": ev.timestamp(a.attempted_at),
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
