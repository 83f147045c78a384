"""End to end with real processes: ``syndicate run`` serving, scheduling and delivering;
two of them sharing PostgreSQL (one leader, ticks run once, a standby takes over); SIGTERM
mid-delivery then a restart loses nothing."""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from syndicate import store
from syndicate.service import leases
from syndicate.testing import Receiver, Reply, seed_deliveries, webhook_ids
from tests.support import Proc, count, delivered, processes, service_env, wait_until

pytestmark = pytest.mark.slow


def test_run_serves_the_feeds_after_the_first_sync_and_stops_cleanly(
    database_url: str, workspace: Path, tmp_path: Path
) -> None:
    """`syndicate run` on a new database: the first sync runs at start, the feed is served
    with an ETag and 304; SIGTERM exits 0 and gives the leader lease back."""
    env = service_env(workspace, database_url, sync_interval=60, deliver_interval=1,
                      leader_lease=2)
    with processes() as started:
        started.append(proc := Proc(["run", "--host", "127.0.0.1"], env, tmp_path, "run"))
        base = proc.url()
        with httpx.Client(base_url=base, timeout=5) as client:
            wait_until(lambda: client.get("/en/feed.atom").status_code == 200, 20, "the feed")
            first = client.get("/en/feed.atom")
            assert first.headers["content-type"].startswith("application/atom+xml")
            again = client.get("/en/feed.atom", headers={"if-none-match": first.headers["etag"]})
            assert again.status_code == 304
        assert proc.terminate() == 0
    engine = store.open_engine(database_url)
    try:
        assert leases.current(engine, leases.LEADER) is None
        c = store.job_runs.c
        with engine.connect() as conn:
            outcomes = set(conn.execute(sa.select(c.outcome).where(c.job == "sync")).scalars())
        assert outcomes == {"ok"}
    finally:
        engine.dispose()


def _leader(engine: sa.engine.Engine) -> str:
    held = leases.current(engine, leases.LEADER)
    return held.holder if held else ""


def _scheduled(engine: sa.engine.Engine, job: str) -> list[sa.Row[tuple[dt.datetime, str]]]:
    c = store.job_runs.c
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(c.scheduled_for, c.host, c.outcome).where(c.job == job)
            .where(c.trigger == "schedule").order_by(c.scheduled_for)))


@pytest.mark.postgres
def test_two_services_one_leader_each_tick_once_and_takeover(
    postgres_url: str, workspace: Path, tmp_path: Path
) -> None:
    """Two `syndicate run` on one PostgreSQL database for several job intervals: both
    serve HTTP, only the leader schedules, each tick runs once; kill -9 the leader and the
    standby leads within leader_lease seconds, then keeps running each tick once."""
    lease = 2.0
    env = service_env(workspace, postgres_url, sync_interval=1, deliver_interval=0.5,
                      report_interval=1, leader_lease=lease)
    engine = store.open_engine(postgres_url)
    with processes() as started:
        started.append(first := Proc(["run"], env, tmp_path, "first"))
        first.url()
        wait_until(lambda: _leader(engine) == first.holder(), 10, "the first process to lead")
        started.append(second := Proc(["run"], env, tmp_path, "second"))
        for proc in (first, second):
            assert httpx.get(proc.url() + "/", timeout=5).status_code in (200, 404)
        time.sleep(5)  # five sync and report intervals, ten deliver intervals
        for job in ("sync", "report", "deliver"):
            runs = _scheduled(engine, job)
            assert {r.host for r in runs} == {first.holder()}, job
            assert len(runs) >= 4, (job, runs)
            ticks = [r.scheduled_for for r in runs]
            assert len(set(ticks)) == len(ticks)
        killed = time.monotonic()
        first.kill()
        took = wait_until(lambda: _leader(engine) == second.holder(), 3 * lease,
                          "the standby to lead")
        assert took <= lease, f"took {took:.2f} s, leader_lease is {lease} s"
        since = dt.datetime.now(dt.UTC)
        time.sleep(3)
        assert second.terminate() == 0
        assert time.monotonic() - killed < 30
    try:
        for job in ("sync", "report"):
            runs = _scheduled(engine, job)
            later = [r for r in runs if r.scheduled_for >= since]
            assert later and {r.host for r in later} == {second.holder()}, job
            ticks = [r.scheduled_for for r in runs]
            assert len(set(ticks)) == len(ticks)
            # kill -9 can land mid-run: that one run of the killed leader is marked
            # interrupted by the new leader; every other run succeeded or was skipped.
            interrupted = [r for r in runs if r.outcome == "interrupted"]
            assert len(interrupted) <= 1 and all(r.host == first.holder() for r in interrupted)
            assert {r.outcome for r in runs if r not in interrupted} <= {"ok", "skipped"}
    finally:
        engine.dispose()


def test_sigterm_mid_delivery_then_restart_loses_nothing(
    database_url: str, workspace: Path, tmp_path: Path
) -> None:
    """SIGTERM while webhooks are in flight: the process finishes or gives back every
    delivery and exits 0; after a restart every webhook arrives, none twice."""
    env = service_env(workspace, database_url, sync_interval=3600, deliver_interval=0.5,
                      report_interval=3600, leader_lease=2, subscriber_concurrency=4)
    engine = store.open_engine(database_url)
    with Receiver() as receiver, processes() as started:
        receiver.program("/slow", default=Reply(delay=0.2))
        secrets = seed_deliveries(engine, [receiver.url("/slow")], 120,
                                  now=dt.datetime.now(dt.UTC))
        started.append(proc := Proc(["run"], env, tmp_path, "run1"))
        wait_until(lambda: len(receiver.requests()) >= 10, 30, "deliveries to start")
        proc.process.send_signal(signal.SIGTERM)
        assert proc.terminate(timeout=20) == 0
        d = store.deliveries.c
        assert count(engine, store.deliveries, d.claimed_by.is_not(None)) == 0
        done_before = delivered(engine)
        assert 10 <= done_before < count(engine, store.deliveries)
        assert len(receiver.requests()) == done_before  # nothing sent and not recorded
        receiver.program("/slow", default=Reply())
        started.append(again := Proc(["run"], env, tmp_path, "run2"))
        total = count(engine, store.deliveries)
        wait_until(lambda: delivered(engine) == total, 60, "every delivery")
        assert again.terminate() == 0
        ids = webhook_ids(receiver.requests("/slow"))
        assert max(ids.values()) == 1, "a webhook arrived twice"
        assert len(ids) == total
        webhook = Webhook(secrets[receiver.url("/slow")])
        for request in receiver.requests("/slow")[:20]:
            webhook.verify(request.body, request.headers)
    engine.dispose()
