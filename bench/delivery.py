"""Webhook delivery benchmark: the whole pipeline against a bare aiohttp client.

10,000 deliveries (thin payloads: 100 events x 100 subscribers) fanned out to 100 receivers
on 127.0.0.1 (one aiohttp server process, 100 ports), end to end: claim from a SQLite store,
sign (Standard Webhooks), POST through Syndicate's transport, record the attempt and the
outcome. In the same run, a bare aiohttp client posts the same bodies to the same receivers
with the same concurrency: the ceiling of this machine. Both run in interleaved rounds
(medians reported) because a shared machine's load moves between measurements. Optionally
(``--httpcore N``) the same pipeline over httpx's default transport (httpcore) on N
deliveries, for comparison.

    python bench/delivery.py [--deliveries 10000] [--receivers 100] [--rounds 3] [--httpcore N]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa

from syndicate import store
from syndicate._time import rfc3339
from syndicate.config import load_settings
from syndicate.webhooks import PinnedTransport, Worker, outbox, signed_headers
from syndicate.webhooks import subscribers as subs
from syndicate.webhooks.events import encode


async def _serve(count: int) -> None:
    """Receivers: answer every POST with 204 after reading the body."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = []
    for _ in range(count):
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        ports.append(server.sockets[0].getsockname()[1])
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


def _payload(index: int, now: dt.datetime) -> str:
    language = ("en", "de", "fr", "es", "ar")[index % 5]
    return encode({
        "type": "answer.reviewed",
        "timestamp": rfc3339(now, "seconds"),
        "data": {
            "answer_id": f"{index:016x}",
            "language": language,
            "condition": "lupus",
            "question": "What causes Lupus?",
            "reviewed": "2026-06-01",
            "previous_reviewed": "2026-04-06",
            "review_due": "2027-06-01",
            "source_reviewed": "2026-06-01",
            "stale": False,
            "url": "https://diseasemaps.example/lupus/what-causes-lupus",
            "feeds": {kind: f"https://answers.example/{language}/feed.{kind}"
                      for kind in ("atom", "rss", "json")},
            "content_hash": f"{index:064x}",
            "version": 2,
        },
    })


def _prepare(url: str, ports: list[int], events: int, now: dt.datetime) -> list[tuple[str, bytes]]:
    """Subscribers, events and one delivery per (event, subscriber); the (url, body) pairs."""
    engine = store.open_engine(url)
    with engine.begin() as conn:
        subs.add_verified(conn, [(f"sub_{port}", f"http://127.0.0.1:{port}/hook",
                                  subs.new_secret()) for port in ports], now)
        rows = [
            {"id": f"msg_bench{index:08d}", "type": "answer.reviewed", "answer_id": f"{index}",
             "language": "en", "condition_slug": "lupus", "subscriber_id": None,
             "created_at": now, "payload": _payload(index, now), "full_payload": None}
            for index in range(events)
        ]
        conn.execute(store.events.insert(), rows)
        outbox.enqueue(conn, rows, subs.recipients(conn), now)
    engine.dispose()
    return [(f"http://127.0.0.1:{port}/hook", row["payload"].encode())
            for row in rows for port in ports]


async def _pipeline(url: str, transport: httpx.AsyncBaseTransport) -> tuple[float, int, float]:
    engine = store.open_engine(url)
    settings = load_settings(overrides={"database_url": url,
                                        "webhook_allow_networks": ["127.0.0.0/8"]})
    worker = Worker(engine, settings, transport)
    started, cpu = time.perf_counter(), time.process_time()
    stats = await worker.run(until_idle=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    worker.close()
    await transport.aclose()
    with engine.connect() as conn:
        delivered = conn.execute(sa.select(sa.func.count()).select_from(store.deliveries)
                                 .where(store.deliveries.c.state == "delivered")).scalar_one()
        logged = conn.execute(sa.select(sa.func.count()).select_from(store.attempts)).scalar_one()
    engine.dispose()
    assert delivered == stats.delivered == logged, (delivered, stats, logged)
    return elapsed, int(delivered), cpu


async def _ceiling(pairs: list[tuple[str, bytes]], concurrency: int) -> tuple[float, float]:
    """A bare aiohttp client: same bodies, same receivers, same concurrency, no store."""
    secret = subs.new_secret()
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        semaphore = asyncio.Semaphore(concurrency)

        async def post(index: int, target: str, body: bytes) -> None:
            headers = signed_headers((secret,), f"msg_{index}", int(time.time()), body)
            async with semaphore, session.post(target, data=body, headers=headers) as response:
                await response.read()
                assert response.status < 300

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post(i, t, b) for i, (t, b) in enumerate(pairs)))
        return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    """Run the benchmark; print figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of both measurements; medians are reported")
    parser.add_argument("--httpcore", type=int, default=0,
                        help="also run the pipeline over httpx's default transport on N")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    receivers = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.receivers)], stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receivers.stdout is not None
        ports: list[int] = json.loads(receivers.stdout.readline())
        events = max(1, args.deliveries // len(ports))
        now = dt.datetime.now(dt.UTC)
        results: dict[str, Any] = {"deliveries": events * len(ports), "receivers": len(ports),
                                   "concurrency": 100, "subscriber_concurrency": 4,
                                   "store": "sqlite"}
        pipeline_rates: list[float] = []
        ceiling_rates: list[float] = []
        cpu_pipeline: list[float] = []
        cpu_ceiling: list[float] = []
        for _ in range(args.rounds):  # interleaved: both see the same machine load
            with tempfile.TemporaryDirectory() as tmp:
                db = f"sqlite:///{Path(tmp) / 'bench.db'}"
                pairs = _prepare(db, ports, events, now)
                ceiling_s, ceiling_cpu = asyncio.run(_ceiling(pairs, 100))
                elapsed, delivered, cpu = asyncio.run(
                    _pipeline(db, PinnedTransport(allow_networks=["127.0.0.0/8"]))
                )
            ceiling_rates.append(len(pairs) / ceiling_s)
            cpu_ceiling.append(ceiling_cpu / len(pairs) * 1e6)
            pipeline_rates.append(delivered / elapsed)
            cpu_pipeline.append(cpu / delivered * 1e6)
            print(f"round: pipeline {pipeline_rates[-1]:,.0f}/s "
                  f"({cpu_pipeline[-1]:.0f} us CPU each), bare aiohttp {ceiling_rates[-1]:,.0f}/s "
                  f"({cpu_ceiling[-1]:.0f} us CPU each)")
        rate = statistics.median(pipeline_rates)
        ceiling = statistics.median(ceiling_rates)
        results.update({
            "rounds": args.rounds,
            "pipeline_per_s": round(rate),
            "pipeline_per_s_all": [round(r) for r in pipeline_rates],
            "pipeline_cpu_us_per_delivery": round(statistics.median(cpu_pipeline)),
            "aiohttp_ceiling_per_s": round(ceiling),
            "aiohttp_ceiling_per_s_all": [round(r) for r in ceiling_rates],
            "aiohttp_cpu_us_per_request": round(statistics.median(cpu_ceiling)),
            "ratio_to_ceiling": round(rate / ceiling, 2),
            "cpu_ratio": round(statistics.median(cpu_ceiling) / statistics.median(cpu_pipeline),
                               2),
        })
        print(f"pipeline (claim, sign, POST, record), median: {rate:,.0f}/s")
        print(f"bare aiohttp client, same bodies, median:     {ceiling:,.0f}/s")
        if args.httpcore:
            with tempfile.TemporaryDirectory() as tmp:
                db = f"sqlite:///{Path(tmp) / 'bench.db'}"
                _prepare(db, ports, max(1, args.httpcore // len(ports)), now)
                transport = httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)
                )
                slow_s, slow_n, _ = asyncio.run(_pipeline(db, transport))
            results["httpcore_pipeline_per_s"] = round(slow_n / slow_s)
            print(f"same pipeline over httpx's default transport: {slow_n / slow_s:,.0f}/s")
        goal = rate >= 1000 and rate >= ceiling / 2
        results["goal_met"] = goal
        print(json.dumps(results))
    finally:
        receivers.kill()
        receivers.wait()


if __name__ == "__main__":
    main()
