"""The transactional outbox on SQLite and PostgreSQL: sync, no duplicates, rollback, leases."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from syndicate import store, sync
from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.testing import FixedClock, Receiver, generate_corpus
from syndicate.webhooks import outbox, queue
from syndicate.webhooks import subscribers as subs
from syndicate.webhooks.delivery import deliver_until_idle
from syndicate.webhooks.events import ChangeSet
from tests.support import ANSWER_FILE, hook_settings, set_front_matter

NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)


def _count(engine: sa.engine.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _active_subscriber(engine: sa.engine.Engine, url: str, **filters: object) -> str:
    found = subs.add(engine, url, now=NOW, allow_networks=["127.0.0.0/8"], **filters)  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(store.deliveries.delete())
        conn.execute(store.events.delete())
        conn.execute(store.subscribers.update().values(status="active", verified_at=NOW))
    return found.id


def _sync(engine: sa.engine.Engine, settings: Settings, **kwargs: object) -> sync.SyncResult:
    return sync.sync(
        engine, localize_corpus(settings), now=NOW, base_url=settings.base_url, **kwargs  # type: ignore[arg-type]
    )


def test_sync_twice_never_enqueues_a_duplicate(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """The second run finds nothing new; the counts do not move."""
    settings = hook_settings(workspace, database_url)
    _active_subscriber(engine, "http://127.0.0.1:9/hook")
    first = _sync(engine, settings)
    assert len(first.events) == 2 and first.deliveries == 2
    second = _sync(engine, settings)
    assert second.events == () and second.deliveries == 0
    assert _count(engine, store.events) == 2
    assert _count(engine, store.deliveries) == 2


def test_replaying_the_same_changes_is_dropped_by_the_unique_ids(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """Two syncs that saw the same state (a race, a crash after commit) enqueue once."""
    settings = hook_settings(workspace, database_url)
    _active_subscriber(engine, "http://127.0.0.1:9/hook")
    localization = localize_corpus(settings)
    with engine.connect() as conn:
        stale_view = outbox.load_stored(conn)
    _sync(engine, settings)
    with engine.begin() as conn:
        from syndicate.webhooks import events as ev

        plan = ev.diff(localization, stale_view)
        rows = [{"id": c.event_id, "type": c.type, "answer_id": c.answer_id,
                 "language": c.language, "condition_slug": c.rendition.condition_slug,
                 "subscriber_id": None, "created_at": NOW, "payload": "{}",
                 "full_payload": None} for c in plan.changes]
        conn.execute(store.insert_ignoring_duplicates(conn, store.events), rows)
        outbox.enqueue(conn, rows, subs.recipients(conn), NOW)
    assert _count(engine, store.events) == 2
    assert _count(engine, store.deliveries) == 2


def test_rolled_back_sync_sends_nothing(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """A sync that fails before its commit leaves no state, no event, no delivery; the
    next sync does the whole work once."""
    settings = hook_settings(workspace, database_url)
    with Receiver() as receiver:
        _active_subscriber(engine, receiver.url())

        def broken_publisher(plan: ChangeSet) -> None:
            raise OSError("disk full")

        with pytest.raises(OSError):
            _sync(engine, settings, publish=broken_publisher)
        assert _count(engine, store.events) == 0
        assert _count(engine, store.renditions) == 0
        stats = asyncio.run(deliver_until_idle(engine, settings, clock=FixedClock(NOW)))
        assert stats.attempts == 0
        assert receiver.requests() == []

        published: list[ChangeSet] = []
        result = _sync(engine, settings, publish=published.append)
        assert len(result.events) == 2 and len(published) == 1
        assert set(published[0].renditions) == {"en", "de"}


def test_filters_pick_the_subscribers(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """Languages, conditions and event types filter what a subscriber is sent."""
    settings = hook_settings(workspace, database_url)
    german = _active_subscriber(engine, "http://127.0.0.1:9/de", languages=["de"])
    _sync(engine, settings)
    other = subs.add(engine, "http://127.0.0.1:9/x", now=NOW, allow_networks=["127.0.0.0/8"],
                     conditions=["asthma"])
    reviews = subs.add(engine, "http://127.0.0.1:9/r", now=NOW, allow_networks=["127.0.0.0/8"],
                       event_types=["answer.reviewed"])
    with engine.begin() as conn:
        conn.execute(store.subscribers.update().values(status="active", verified_at=NOW))
    set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-01")
    _sync(engine, settings)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(store.deliveries.c.subscriber_id, store.deliveries.c.event_type)
            .where(store.deliveries.c.event_type != "endpoint.verify")
        ).all()
    got = sorted((row.subscriber_id, row.event_type) for row in rows)
    assert got == sorted([
        (german, "answer.published"), (german, "answer.reviewed"),
        (reviews.id, "answer.reviewed"), (reviews.id, "answer.reviewed"),
    ])
    assert other.id not in {row.subscriber_id for row in rows}


def test_expired_lease_is_claimed_again_with_the_same_webhook_id(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """A worker that dies keeps its claim only until the lease runs out."""
    settings = hook_settings(workspace, database_url)
    _active_subscriber(engine, "http://127.0.0.1:9/hook")
    _sync(engine, settings)
    lease = NOW + dt.timedelta(seconds=60)
    first = queue.claim(engine, now=NOW, limit=10, lease_until=lease, worker="a", room={}, cap=4)
    assert len(first) == 2
    assert queue.claim(engine, now=NOW, limit=10, lease_until=lease, worker="b", room={},
                        cap=4) == []
    later = lease + dt.timedelta(seconds=1)
    again = queue.claim(engine, now=later, limit=10, lease_until=later, worker="b", room={},
                         cap=4)
    assert sorted(j.event_id for j in again) == sorted(j.event_id for j in first)
    assert [j.body for j in sorted(again, key=lambda j: j.delivery_id)] == [
        j.body for j in sorted(first, key=lambda j: j.delivery_id)
    ]


def test_claim_respects_the_per_subscriber_cap(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """One subscriber's backlog never fills a claim: each gets at most its room."""
    settings = hook_settings(workspace, database_url)
    busy = _active_subscriber(engine, "http://127.0.0.1:9/busy")
    _sync(engine, settings)
    jobs = queue.claim(engine, now=NOW, limit=10, lease_until=NOW, worker="a", room={}, cap=1)
    assert [j.subscriber_id for j in jobs] == [busy]
    none = queue.claim(engine, now=NOW, limit=10, lease_until=NOW, worker="a",
                        room={busy: 0}, cap=1)
    assert none == []


def test_claim_takes_due_deliveries_in_order_within_each_subscribers_room(
    engine: sa.engine.Engine,
) -> None:
    """The claim is the greedy walk over due deliveries in (due_at, id) order, taking one
    when its subscriber still has room, up to the limit: checked against that walk written
    out in Python, with rooms, caps, limits, leases held by others, statuses and a
    one-subscriber claim, on both backends (PostgreSQL claims in one statement)."""
    from syndicate.testing import seed_deliveries

    urls = [f"http://127.0.0.1:{9000 + n}/hook" for n in range(6)]
    seed_deliveries(engine, urls, 12, now=NOW)
    d, s = store.deliveries.c, store.subscribers.c
    rng = random.Random(7)
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(d.id).order_by(d.id)).scalars())
        for delivery_id in ids:  # due times spread over the past and the future
            conn.execute(store.deliveries.update().where(d.id == delivery_id).values(
                due_at=NOW + dt.timedelta(seconds=rng.randint(-50, 10))))
        held = rng.sample(ids, 8)  # leased by another worker, some leases expired
        conn.execute(store.deliveries.update().where(d.id.in_(held[:5])).values(
            claimed_by="other", claimed_until=NOW + dt.timedelta(seconds=30)))
        conn.execute(store.deliveries.update().where(d.id.in_(held[5:])).values(
            claimed_by="other", claimed_until=NOW - dt.timedelta(seconds=1)))
        conn.execute(store.deliveries.update().where(d.id.in_(rng.sample(ids, 6))).values(
            state="delivered"))
        conn.execute(store.subscribers.update().where(s.id == "sub_load00004").values(
            status="paused"))
        conn.execute(store.subscribers.update().where(s.id == "sub_load00005").values(
            lease_expires_at=NOW - dt.timedelta(seconds=1)))  # an expired WebSub lease

    def expected(room: dict[str, int], cap: int, limit: int, only: str | None) -> list[int]:
        with engine.connect() as conn:
            due = conn.execute(
                sa.select(d.id, d.subscriber_id).join(store.subscribers, s.id == d.subscriber_id)
                .where(d.state == "pending", d.due_at <= NOW, s.status == "active",
                       sa.or_(s.lease_expires_at.is_(None), s.lease_expires_at > NOW),
                       sa.or_(d.claimed_until.is_(None), d.claimed_until <= NOW))
                .order_by(d.due_at, d.id)
            ).all()
        taken: dict[str, int] = {}
        chosen = []
        for row in due:
            if only is not None and row.subscriber_id != only:
                continue
            if taken.get(row.subscriber_id, 0) < room.get(row.subscriber_id, cap):
                taken[row.subscriber_id] = taken.get(row.subscriber_id, 0) + 1
                chosen.append(row.id)
        return chosen[:limit]

    cases = [
        ({}, 100, 100, None), ({}, 2, 100, None), ({}, 3, 5, None),
        ({"sub_load00000": 0, "sub_load00001": 1}, 2, 100, None),
        ({"sub_load00002": 5}, 1, 7, None), ({}, 3, 100, "sub_load00003"),
    ]
    for room, cap, limit, only in cases:
        want = expected(room, cap, limit, only)
        jobs = queue.claim(engine, now=NOW, limit=limit, lease_until=NOW + dt.timedelta(
            seconds=60), worker="me", room=room, cap=cap, subscriber_id=only)
        assert [job.delivery_id for job in jobs] == want, (room, cap, limit, only)
        assert all(job.url == urls[int(job.subscriber_id[-5:])] for job in jobs)
        with engine.begin() as conn:  # give them back for the next case
            conn.execute(store.deliveries.update().where(d.claimed_by == "me")
                         .values(claimed_by=None, claimed_until=None))
    assert expected({}, 100, 100, None), "the fixture leaves something to claim"


def test_record_settles_deliveries_and_subscribers_health(engine: sa.engine.Engine) -> None:
    """A batch of successes (one statement on PostgreSQL) ends a failing streak; a mixed
    batch starts one for the failing subscriber only; an attempt on a delivery the worker no
    longer holds is logged but does not settle it."""
    from syndicate.testing import seed_deliveries
    from syndicate.webhooks.policy import Attempt as Answer
    from syndicate.webhooks.policy import decide

    urls = [f"http://127.0.0.1:{9000 + n}/hook" for n in range(3)]
    seed_deliveries(engine, urls, 4, now=NOW)
    d, s = store.deliveries.c, store.subscribers.c
    rng = random.Random(1)
    lease = NOW + dt.timedelta(seconds=60)
    week = dt.timedelta(days=7)

    def attempt(status_by_subscriber: dict[str, int]) -> list[queue.Claim]:
        jobs = queue.claim(engine, now=NOW, limit=100, lease_until=lease, worker="w",
                            room={}, cap=1)
        results = [decide(job, Answer(status_by_subscriber[job.subscriber_id], None, 1.0),
                          NOW, rng) for job in jobs]
        queue.record(engine, results, now=NOW, worker="w", disable_after=week)
        return jobs

    def failing() -> dict[str, dt.datetime | None]:
        with engine.connect() as conn:
            return {row.id: row.failing_since
                    for row in conn.execute(sa.select(s.id, s.failing_since))}

    a, b, c = "sub_load00000", "sub_load00001", "sub_load00002"
    attempt({a: 500, b: 500, c: 204})
    assert failing() == {a: NOW, b: NOW, c: None}
    jobs = attempt({a: 204, b: 204, c: 204})  # successes only
    assert len(jobs) == 3
    assert failing() == {a: None, b: None, c: None}
    attempt({a: 204, b: 503, c: 204})
    assert failing() == {a: None, b: NOW, c: None}
    with engine.connect() as conn:
        states = dict(conn.execute(
            sa.select(d.subscriber_id, sa.func.count()).where(d.state == "delivered")
            .group_by(d.subscriber_id)).all())
        logged = conn.execute(sa.select(sa.func.count()).select_from(store.attempts)).scalar()
    assert states == {a: 2, b: 1, c: 3}
    assert logged == 9

    # A claim taken over by another worker (this one's lease ran out): logged, not settled.
    taken = queue.claim(engine, now=NOW, limit=1, lease_until=lease, worker="w", room={},
                         cap=1)
    with engine.begin() as conn:
        conn.execute(store.deliveries.update().where(d.id == taken[0].delivery_id)
                     .values(claimed_by="x"))
    queue.record(engine, [decide(taken[0], Answer(204, None, 1.0), NOW, rng)], now=NOW,
                  worker="w", disable_after=week)
    with engine.connect() as conn:
        row = conn.execute(sa.select(d.state, d.claimed_by)
                           .where(d.id == taken[0].delivery_id)).one()
        logged = conn.execute(sa.select(sa.func.count()).select_from(store.attempts)).scalar()
    assert tuple(row) == ("pending", "x")
    assert logged == 10


@pytest.mark.postgres
@pytest.mark.parametrize("analyzed", ["nothing", "deliveries", "everything"])
def test_postgresql_claim_walks_the_ready_index_whatever_the_statistics(
    postgres_url: str, analyzed: str
) -> None:
    """The claim's plan is an ordered walk of ``ix_deliveries_ready`` that stops after
    ``:scan`` rows, never a fetch and sort of every due delivery: also when the subscribers
    table was never analyzed (a new deployment with a few subscribers; with subscribers
    joined in, the planner then guessed one subscriber and sorted all 15,000 due rows)."""
    from syndicate.testing import seed_deliveries

    engine = store.open_engine(postgres_url)
    try:
        seed_deliveries(engine, [f"http://127.0.0.1:{9000 + n}/h" for n in range(30)], 500,
                        now=NOW)
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if analyzed == "deliveries":
                conn.exec_driver_sql("VACUUM ANALYZE deliveries")
            elif analyzed == "everything":
                conn.exec_driver_sql("VACUUM ANALYZE")
        compiled = queue._PG_CLAIM.compile(dialect=engine.dialect)
        params = {"now": NOW.replace(tzinfo=None), "lease_until": NOW.replace(tzinfo=None),
                  "worker": "w", "verify": "endpoint.verify", "full": "[]", "room": "{}",
                  "cap": 4, "limit": 60, "scan": 120}
        with engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled),
                                        params).scalar_one()[0]["Plan"]
    finally:
        engine.dispose()

    def nodes(node: dict[str, object]) -> list[dict[str, object]]:
        found = [node]
        for child in node.get("Plans", []):  # type: ignore[attr-defined]
            found.extend(nodes(child))
        return found

    ready = next(n for n in nodes(plan) if n.get("Subplan Name") == "CTE ready")
    walk = nodes(ready)
    assert any(n.get("Index Name") == "ix_deliveries_ready" for n in walk), walk
    assert not any(n["Node Type"] == "Sort" for n in walk), walk
    assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "deliveries"
                   for n in walk), walk


def test_a_large_sync_writes_every_event_and_delivery_in_batches(
    engine: sa.engine.Engine, tmp_path: Path
) -> None:
    """Events and deliveries are written a batch at a time (their bodies are never all held
    at once): more than a batch of each still makes exactly one event per change and one
    delivery per event and receiver, and a second sync none."""
    generate_corpus(tmp_path, answers=130, languages=4)  # 520 renditions, test fixtures
    settings = Settings(content_dir=tmp_path / "content", locales_dir=tmp_path / "locales",
                        out_dir=tmp_path / "public", state_dir=tmp_path / "state")
    receivers = [_active_subscriber(engine, f"http://127.0.0.{n}:9/hook") for n in range(1, 11)]
    first = _sync(engine, settings)
    changes = len(first.diff.changes) + len(first.diff.reminders)
    assert changes > outbox.CHUNK and len(first.events) == changes
    assert _count(engine, store.events) == changes
    # every receiver gets every change (reminders only go to those who ask for them)
    assert first.deliveries == len(receivers) * len(first.diff.changes) > outbox.CHUNK * 10
    assert _count(engine, store.deliveries) == first.deliveries
    with engine.connect() as conn:
        last = conn.execute(sa.select(store.events.c.full_payload)
                            .order_by(store.events.c.id.desc()).limit(1)).scalar_one()
    assert '"rendition":' in last
    again = _sync(engine, settings)
    assert again.events == () and again.deliveries == 0
