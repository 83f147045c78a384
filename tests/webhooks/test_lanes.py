"""WebSub distributions and partner webhooks travel in separate lanes: hundreds of WebSub
callbacks that stall never hold back a partner's delivery (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from syndicate import store
from syndicate.webhooks import outbox, websub
from syndicate.webhooks import subscribers as subs
from syndicate.webhooks.delivery import deliver_until_idle
from syndicate.webhooks.queue import claim
from tests.support import hook_settings

NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
TOPIC = "https://answers.example/en/feed.atom"


class _Stall:
    """A server that reads requests and never answers them; when each connection came."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.arrivals.append(time.monotonic())
            try:
                while await reader.read(65536):
                    pass
            finally:
                writer.close()

        async def main() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await asyncio.Event().wait()

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),),
                                       daemon=True)
        self.thread.start()
        ready.wait(10)


@pytest.fixture
def stall() -> Iterator[_Stall]:
    yield _Stall()


def _seed(engine: sa.engine.Engine, stall_port: int, partner_url: str) -> str:
    """8 WebSub subscriptions on a stalling callback, their content due first; then one
    partner webhook delivery; the partner's id."""
    with engine.begin() as conn:
        ids = [subs.save_websub(conn, callback=f"http://127.0.0.1:{stall_port}/cb{i}",
                                topic=TOPIC, secret="", event_type=websub.CONTENT_EVENT,
                                expires=NOW + dt.timedelta(days=1), now=NOW)
               for i in range(8)]
        event = outbox.add_event(conn, websub.CONTENT_EVENT, "<feed/>", NOW)
        outbox.add_deliveries(conn, event, websub.CONTENT_EVENT, ids, NOW)
    partner = subs.add(engine, partner_url, now=NOW, allow_networks=["127.0.0.0/8"])
    later = NOW + dt.timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(store.deliveries.delete()
                     .where(store.deliveries.c.subscriber_id == partner.id))
        conn.execute(store.subscribers.update().where(store.subscribers.c.id == partner.id)
                     .values(status="active", verified_at=NOW))
        event = outbox.add_event(conn, "answer.reviewed", '{"type":"answer.reviewed"}', later)
        outbox.add_deliveries(conn, event, "answer.reviewed", [partner.id], later)
    return partner.id


def test_stalling_websub_callbacks_never_hold_a_partner_back(
    tmp_path: object, database_url: str, stall: _Stall
) -> None:
    """Before: 8 stalled WebSub distributions, due first, took every slot (here 4): the
    partner's first attempt waited for them to time out. Now it goes at once, in its lane,
    while the stalled ones are still waiting for their answers."""
    from syndicate.testing import Receiver

    engine = store.open_engine(database_url)
    settings = hook_settings(tmp_path, database_url, delivery_concurrency=4,  # type: ignore[arg-type]
                             websub_delivery_concurrency=4, webhook_timeout=1.0,
                             retry_schedule="0")
    with Receiver() as partner:
        _seed(engine, stall.port, partner.url("/hook"))
        started = time.monotonic()
        stats = asyncio.run(deliver_until_idle(engine, settings,
                                               clock=lambda: NOW + dt.timedelta(seconds=2)))
        (received,) = partner.requests("/hook")
    assert stats.attempts == 9 and stats.delivered == 1
    assert stall.arrivals, "the WebSub callbacks were tried"
    # The partner got its request before the first stalled distribution could time out.
    assert received.at - started < settings.webhook_timeout
    engine.dispose()


def test_each_lane_claims_only_its_own(database_url: str, stall: _Stall) -> None:
    engine = store.open_engine(database_url)
    partner_id = _seed(engine, stall.port, "http://127.0.0.1:9/hook")
    now = NOW + dt.timedelta(seconds=2)
    common = {"now": now, "limit": 100, "lease_until": now + dt.timedelta(minutes=1),
              "worker": "w", "room": {}, "cap": 100}
    webhooks = claim(engine, lane="webhook", **common)  # type: ignore[arg-type]
    assert [c.subscriber_id for c in webhooks] == [partner_id]
    distributions = claim(engine, lane="websub", **common)  # type: ignore[arg-type]
    assert len(distributions) == 8 and all(c.topic == TOPIC for c in distributions)
    engine.dispose()
