"""Delivery over real HTTP on 127.0.0.1: signing, retries, Retry-After, 410, redirects,
timeouts, verification, rotation, dead letters."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from syndicate import store, sync
from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.testing import FixedClock, Received, Receiver, Reply
from syndicate.webhooks import deliveries
from syndicate.webhooks import subscribers as subs
from syndicate.webhooks.delivery import deliver_until_idle
from syndicate.webhooks.policy import SCHEDULE
from tests.support import hook_settings

START = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)


def _subscribe(engine: sa.engine.Engine, url: str, clock: FixedClock, **kw: object) -> str:
    """An active subscriber (verification done by hand) for English events."""
    kw.setdefault("languages", ["en"])
    found = subs.add(engine, url, now=clock(), allow_networks=["127.0.0.0/8"], **kw)  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(store.deliveries.delete().where(store.deliveries.c.subscriber_id == found.id))
        conn.execute(store.subscribers.update().where(store.subscribers.c.id == found.id)
                     .values(status="active", verified_at=clock()))
    return found.id


def _publish(engine: sa.engine.Engine, settings: Settings, clock: FixedClock) -> None:
    sync.sync(engine, localize_corpus(settings), now=clock(), base_url=settings.base_url)


def _deliver(engine: sa.engine.Engine, settings: Settings, clock: FixedClock) -> int:
    return asyncio.run(deliver_until_idle(engine, settings, clock=clock)).attempts


def _delivery(engine: sa.engine.Engine, subscriber_id: str) -> sa.Row[tuple[object, ...]]:
    with engine.connect() as conn:
        return conn.execute(sa.select(store.deliveries)
                            .where(store.deliveries.c.subscriber_id == subscriber_id)).one()


def _signature_ok(secret: str, request: Received) -> bool:
    """Check the signature with the standardwebhooks package (its own HMAC)."""
    timestamp = dt.datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), dt.UTC)
    expected = Webhook(secret).sign(request.webhook_id, timestamp, request.body.decode())
    return expected in request.headers["webhook-signature"].split(" ")


def test_500_500_500_then_200_is_four_attempts_one_success_same_id_and_body(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """Retries follow the schedule, with the same webhook-id and body every time."""
    settings = hook_settings(workspace, database_url)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/hook", Reply(500), Reply(500), Reply(500), Reply(200))
        sid = _subscribe(engine, receiver.url(), clock)
        secret = subs.require(engine, sid).secret
        _publish(engine, settings, clock)
        assert _deliver(engine, settings, clock) == 1
        for delay in SCHEDULE[1:4]:
            clock.advance(delay * 0.85)
            assert _deliver(engine, settings, clock) == 0  # not due yet (jitter is 10 %)
            clock.advance(delay * 0.3)
            assert _deliver(engine, settings, clock) == 1
        got = receiver.requests("/hook")
        assert len(got) == 4
        assert len({r.webhook_id for r in got}) == 1
        assert len({r.body for r in got}) == 1
        assert all(_signature_ok(secret, r) for r in got)
        row = _delivery(engine, sid)
        assert (row.state, row.attempts, row.last_status) == ("delivered", 4, 200)
        _view, logged = deliveries.show_delivery(engine, row.id)
        assert [a["status"] for a in logged] == [500, 500, 500, 200]
        assert all(a["duration_ms"] >= 0 for a in logged)


def test_retry_after_is_honoured(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """503 with Retry-After: 120 is retried after 120 s, not on the schedule."""
    settings = hook_settings(workspace, database_url)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/hook", Reply(503, headers=(("Retry-After", "120"),)), Reply(200))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        assert _deliver(engine, settings, clock) == 1
        assert _delivery(engine, sid).due_at == START + dt.timedelta(seconds=120)
        clock.advance(119)
        assert _deliver(engine, settings, clock) == 0
        clock.advance(1)
        assert _deliver(engine, settings, clock) == 1
        assert _delivery(engine, sid).state == "delivered"


def test_retry_after_as_http_date_on_429(tmp_path: Path, workspace: Path) -> None:
    """Retry-After may be an HTTP date."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = store.open_engine(url)
    settings = hook_settings(workspace, url)
    clock = FixedClock(START)
    when = "Fri, 01 May 2026 12:10:00 GMT"
    with Receiver() as receiver:
        receiver.program("/hook", Reply(429, headers=(("Retry-After", when),)))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        assert _delivery(engine, sid).due_at == START + dt.timedelta(minutes=10)


def test_410_disables_the_subscriber(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """Gone means gone: no more deliveries, and an event says why."""
    settings = hook_settings(workspace, database_url, subscriber_concurrency=1)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/hook", default=Reply(410))
        sid = _subscribe(engine, receiver.url(), clock, languages=[])
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        assert len(receiver.requests()) == 1  # the other language's delivery is not sent
        found = subs.require(engine, sid)
        assert found.status == "disabled" and "410" in (found.status_reason or "")
        with engine.connect() as conn:
            disabled = conn.execute(sa.select(store.events.c.payload)
                                    .where(store.events.c.type == "subscriber.disabled")).all()
        assert len(disabled) == 1
        assert json.loads(disabled[0].payload)["data"]["subscriber_id"] == sid


def test_302_is_a_failure_and_the_redirect_is_not_followed(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """A redirect is never followed, whatever it points to."""
    settings = hook_settings(workspace, database_url)
    clock = FixedClock(START)
    with Receiver() as receiver:
        target = receiver.url("/elsewhere")
        receiver.program("/hook", Reply(302, headers=(("Location", target),)))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        row = _delivery(engine, sid)
        assert (row.state, row.last_status) == ("pending", 302)
        assert "redirect" in row.last_error
        assert receiver.requests("/elsewhere") == []


def test_hanging_receiver_times_out_while_another_is_served_within_a_second(
    tmp_path: Path, workspace: Path
) -> None:
    """One stuck receiver holds only its own slots."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = store.open_engine(url)
    settings = hook_settings(workspace, url, webhook_timeout=2.0, subscriber_concurrency=1)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/slow", default=Reply(200, delay=30))
        slow = _subscribe(engine, receiver.url("/slow"), clock, languages=[])
        fast = _subscribe(engine, receiver.url("/fast"), clock, languages=[])
        _publish(engine, settings, clock)
        started = time.monotonic()
        asyncio.run(deliver_until_idle(engine, settings, clock=clock))
        elapsed = time.monotonic() - started
        fast_arrivals = [r.at - started for r in receiver.requests("/fast")]
        assert len(fast_arrivals) == 2 and max(fast_arrivals) < 1.0
        assert 2.0 <= elapsed < 6.0
        with engine.connect() as conn:
            rows = conn.execute(sa.select(store.deliveries)
                                .where(store.deliveries.c.subscriber_id == slow)).all()
        assert {row.last_error for row in rows} == {"timed out after 2 s"}
        assert _delivery_states(engine, fast) == {"delivered"}


def _delivery_states(engine: sa.engine.Engine, subscriber_id: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(store.deliveries.c.state)
                                .where(store.deliveries.c.subscriber_id == subscriber_id))
                   .scalars())


def test_response_body_read_is_bounded(tmp_path: Path, workspace: Path) -> None:
    """A receiver answering megabytes does not make the worker read them."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = store.open_engine(url)
    settings = hook_settings(workspace, url)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/hook", Reply(200, body=b"x" * 5_000_000))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        assert _delivery(engine, sid).state == "delivered"


def test_rotation_signs_with_both_secrets(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """During a rotation the receiver may verify with the old or the new secret."""
    settings = hook_settings(workspace, database_url)
    clock = FixedClock(START)
    with Receiver() as receiver:
        sid = _subscribe(engine, receiver.url(), clock)
        old = subs.require(engine, sid).secret
        new = subs.rotate_secret(engine, sid, now=clock())
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        (request,) = receiver.requests()
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        assert _signature_ok(old, request) and _signature_ok(new, request)


def test_verification_activates_only_on_echoed_challenge(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """A URL must echo the challenge of a signed endpoint.verify before it gets events."""
    settings = hook_settings(workspace, database_url)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/lazy", default=Reply(200, echo_challenge=False))
        lazy = subs.add(engine, receiver.url("/lazy"), now=clock(),
                        allow_networks=["127.0.0.0/8"])
        good = subs.add(engine, receiver.url("/good"), now=clock(),
                        allow_networks=["127.0.0.0/8"])
        assert {lazy.status, good.status} == {"pending"}
        _deliver(engine, settings, clock)
        (challenge,) = receiver.requests("/good")
        assert challenge.json()["type"] == "endpoint.verify"
        assert _signature_ok(good.secret, challenge)
        assert subs.require(engine, good.id).status == "active"
        assert subs.require(engine, lazy.id).status == "pending"
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        assert len(receiver.requests("/good")) == 3  # verify + en + de
        assert len(receiver.requests("/lazy")) == 1  # only the verification


def test_exhausted_delivery_goes_dead_and_retry_revives_it(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """Eight failed attempts make a dead letter; ``retry`` sends it again, same id."""
    settings = hook_settings(workspace, database_url, disable_after_days=30)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/hook", default=Reply(500))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        for _ in SCHEDULE:
            _deliver(engine, settings, clock)
            clock.advance(12 * 3600)
        row = _delivery(engine, sid)
        assert (row.state, row.attempts) == ("dead", len(SCHEDULE))
        assert _deliver(engine, settings, clock) == 0
        receiver.program("/hook", Reply(200))
        assert deliveries.requeue(engine, now=clock(), ids=[row.id]) == 1
        assert _deliver(engine, settings, clock) == 1
        assert _delivery(engine, sid).state == "delivered"
        assert len({r.webhook_id for r in receiver.requests()}) == 1


def test_retry_schedule_setting_replaces_the_built_in_schedule(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """``retry_schedule=0,1,2``: three attempts one and two seconds apart, then dead."""
    settings = hook_settings(workspace, database_url, retry_schedule="0,1,2")
    assert settings.retry_delays == (0.0, 1.0, 2.0)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/hook", default=Reply(500))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        assert _deliver(engine, settings, clock) == 1
        clock.advance(0.5)  # the second attempt is due after 1 s (+/-10 %), not 5 s
        assert _deliver(engine, settings, clock) == 0
        clock.advance(0.7)
        assert _deliver(engine, settings, clock) == 1
        clock.advance(2.5)
        assert _deliver(engine, settings, clock) == 1
        row = _delivery(engine, sid)
        assert (row.state, row.attempts) == ("dead", 3)


def test_subscriber_failing_for_days_is_disabled(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """``disable_after_days`` of failures disables the subscriber, with an event."""
    settings = hook_settings(workspace, database_url, disable_after_days=1)
    clock = FixedClock(START)
    with Receiver() as receiver:
        receiver.program("/hook", default=Reply(500))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        for _ in range(5):
            _deliver(engine, settings, clock)
            clock.advance(12 * 3600)
        found = subs.require(engine, sid)
        assert found.status == "disabled" and "failing since" in (found.status_reason or "")
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(store.events)
                                .where(store.events.c.type == "subscriber.disabled")
                                ).scalar_one() == 1


def test_replay_resends_delivered_events_with_the_same_id(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """A receiver that lost data gets everything since a date again, same webhook-ids."""
    settings = hook_settings(workspace, database_url)
    clock = FixedClock(START)
    with Receiver() as receiver:
        _subscribe(engine, receiver.url(), clock, languages=[])
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        first = sorted(r.webhook_id for r in receiver.requests())
        assert deliveries.requeue(engine, now=clock(), since=START,
                              states=("delivered", "dead", "pending")) == 2
        _deliver(engine, settings, clock)
        ids = sorted(r.webhook_id for r in receiver.requests())
        assert ids == sorted(first * 2)


def test_a_transport_without_its_own_timer_is_timed_by_the_worker(
    tmp_path: Path, workspace: Path
) -> None:
    """httpx.MockTransport does not bound a request: the worker's timer does; the request
    it hands any transport carries Host, Content-Length, the signature and the body."""
    import httpx

    from syndicate.webhooks.delivery import Worker

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = store.open_engine(url)
    settings = hook_settings(workspace, url, webhook_timeout=0.5)
    clock = FixedClock(START)
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/hang":
            await asyncio.sleep(60)
        return httpx.Response(204)

    hanging = _subscribe(engine, "http://127.0.0.1:9/hang", clock)
    fine = _subscribe(engine, "http://127.0.0.1:9/fine", clock)
    _publish(engine, settings, clock)
    worker = Worker(engine, settings, httpx.MockTransport(handler), clock=clock)
    started = time.monotonic()
    try:
        stats = asyncio.run(worker.run(until_idle=True))
    finally:
        worker.close()
    assert time.monotonic() - started < 5
    assert stats.delivered == 1 and stats.failed == 1
    assert _delivery(engine, hanging).last_error == "timed out after 0.5 s"
    assert _delivery(engine, fine).state == "delivered"
    request = next(r for r in seen if r.url.path == "/fine")
    assert request.headers["host"] == "127.0.0.1:9"
    assert int(request.headers["content-length"]) == len(request.content) > 0
    assert request.headers["webhook-signature"].startswith("v1,")
    assert json.loads(request.content)["type"] == "answer.published"


def test_the_first_bytes_of_each_answer_are_kept_with_its_attempt(
    engine: sa.engine.Engine, database_url: str, workspace: Path
) -> None:
    """Partners read what their endpoint answered (the console shows it): the first 200
    bytes of each answer's body, on SQLite and on PostgreSQL's one-statement record."""
    from syndicate.webhooks.delivery import RESPONSE_EXCERPT

    settings = hook_settings(workspace, database_url)
    clock = FixedClock(START)
    long_answer = b'{"error": "database locked"}' + b"x" * 1000
    with Receiver() as receiver:
        receiver.program("/hook", Reply(500, body=long_answer), Reply(200, body="reçu".encode()))
        sid = _subscribe(engine, receiver.url(), clock)
        _publish(engine, settings, clock)
        _deliver(engine, settings, clock)
        clock.advance(60)
        _deliver(engine, settings, clock)
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(store.attempts.c.status_code, store.attempts.c.response)
            .join(store.deliveries, store.deliveries.c.id == store.attempts.c.delivery_id)
            .where(store.deliveries.c.subscriber_id == sid).order_by(store.attempts.c.id)).all()
    assert [tuple(row) for row in kept] == [
        (500, long_answer[:RESPONSE_EXCERPT].decode()), (200, "reçu")]
