"""A flood of the open WebSub hub against a real ``syndicate run`` process on loopback, for
the flood test and ``bench/hub_flood.py``.

The service runs in a child process under a 1,024 open-file limit (the default soft limit
under systemd) with an injected resolver: names ending in ``.slow.test`` take ``dns_delay``
seconds to resolve, other ``.test`` names are 127.0.0.1, and nothing else resolves (no real
DNS is ever asked). While a partner webhook is due, :func:`run_flood`:

- keeps 600 WebSub subscriptions (made beforehand) whose callbacks never answer a content
  POST;
- sends 1,200 anonymous hub requests from 1,200 client addresses (``X-Forwarded-For``, as
  behind the shipped nginx) naming 600 callback hosts, half of them slow to resolve, the
  others stalling every request;
- probes a feed, ``/readyz`` and the authenticated subscriptions list every 50 ms;
- syncs a changed review date, which queues the partner's ``answer.reviewed`` and 600 WebSub
  distributions of the rewritten feed, and measures how long after the sync committed (the
  sync process reports the wall-clock time) the partner's first attempt arrives.

It reports the hub's answers by status, the probes' latencies and failures, the partner's
delay after the sync, and the service's memory and open files.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from .._time import utc_now
from ..errors import SyndicateError
from ..webhooks import netguard
from .receiver import Receiver
from .services import service_env

SLOW = ".slow.test"
TOPIC_PATH = "/en/feed.atom"
FILE_LIMIT = 1024


def loopback_resolver(delay: float) -> netguard.Resolver:
    """``*.slow.test`` resolves to 127.0.0.1 after ``delay`` seconds, other ``*.test`` names
    at once; anything else does not resolve (the flood never asks real DNS)."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        if not host.endswith(".test"):
            raise OSError(f"{host} is not a test name")
        if host.endswith(SLOW):
            await asyncio.sleep(delay)
        return ["127.0.0.1"]

    return resolve


def serve(argv: Sequence[str] | None = None) -> None:
    """The service process: settings from ``SYNDICATE_*``, a 1,024-file limit, the injected
    resolver (``python -m syndicate.testing.flood --dns-delay 20``)."""
    from .. import store
    from ..config import load_settings
    from ..service import RunProcess, configure_logs

    parser = argparse.ArgumentParser()
    parser.add_argument("--dns-delay", type=float, default=20.0)
    options = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))
    settings = load_settings(environ=os.environ)
    configure_logs(settings.log_format)
    engine = store.open_engine(settings.database)
    RunProcess(settings, engine, resolver=loopback_resolver(options.dns_delay)).run()


class StallServer:
    """Callbacks that answer a verification GET with its challenge (or never, for ``/hang``
    paths) and never answer a POST; in a thread of its own."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> StallServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        await asyncio.sleep(0.05)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode("latin-1")
            challenge = re.search(r"hub\.challenge=([^&]+)", target)
            if head.startswith(b"GET ") and challenge and not target.startswith("/hang"):
                body = challenge.group(1).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(body), body))
                await writer.drain()
            while await reader.read(65536):
                pass  # hold the connection until the other side gives up
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def service_memory(pid: int) -> tuple[float, int]:
    """Resident memory (MB) and open files of a process."""
    rss = 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    try:
        files = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        files = 0
    return rss, files


class _Probes:
    """GETs of a feed, ``/readyz`` and the subscriptions list every 50 ms until stopped."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.failures: collections.Counter[str] = collections.Counter()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        headers = {"authorization": f"Bearer {self.token}"}
        paths = {"feed": TOPIC_PATH, "readyz": "/readyz", "api": "/api/v1/subscriptions"}
        async with httpx.AsyncClient(base_url=self.base, timeout=10, headers=headers) as client:
            while not self.stop.is_set():
                for name, path in paths.items():
                    started = time.perf_counter()
                    try:
                        response = await client.get(path)
                        ok = response.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    self.latencies[name].append((time.perf_counter() - started) * 1000)
                    if not ok:
                        self.failures[name] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), 0.05)

    def p99(self, name: str) -> float:
        found = sorted(self.latencies[name])
        return round(found[min(len(found) - 1, int(len(found) * 0.99))], 1) if found else 0.0


async def _flood(base: str, topic: str, stall_port: int, requests: int,
                 concurrency: int) -> collections.Counter[int]:
    """``requests`` anonymous hub requests from as many client addresses; statuses."""
    statuses: collections.Counter[int] = collections.Counter()
    pending = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def one(client: httpx.AsyncClient) -> None:
        for index in pending:
            host = (f"cb{index % 300}{SLOW}" if index % 2 else f"cb{index % 300}.stall.test")
            callback = f"http://{host}:{stall_port}/hang{index}"
            form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
            address = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
            try:
                response = await client.post("/websub", data=form,
                                             headers={"x-forwarded-for": address})
                statuses[response.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1

    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(*(one(client) for _ in range(concurrency)))
    return statuses


def flood_env(workspace: Path, database_url: str, **extra: object) -> dict[str, str]:
    """The service's environment over ``workspace`` (its content, locales and tree), with
    the flood's timings: no sync tick during the run, short delivery and DNS timeouts."""
    timings: dict[str, object] = {"sync_interval": 3600, "deliver_interval": 0.5,
                                  "webhook_timeout": 5, "dns_timeout": 2}
    return service_env(workspace, database_url, **{**timings, **extra})


@contextlib.contextmanager
def service_process(env: dict[str, str], logs: Path, dns_delay: float) -> Iterator[tuple[str, int]]:
    """The service process (base URL, pid) until the block ends; then SIGTERM."""
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / "flood-service.out", logs / "flood-service.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicate.testing.flood", "--dns-delay", str(dns_delay)],
            env=env, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while "http://" not in out.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SyndicateError(f"the service did not start: {err.read_text()[-2000:]}")
            time.sleep(0.05)
        base = "http://" + out.read_text().split("http://", 1)[1].split("/", 1)[0]
        with httpx.Client(base_url=base, timeout=5) as client:
            while client.get(TOPIC_PATH).status_code != 200:
                if time.monotonic() > deadline:
                    raise SyndicateError("the service published no feed")
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _seed(env: dict[str, str], partner_url: str, stall_port: int,
          subscriptions: int) -> tuple[str, str]:
    """A partner webhook subscriber (active, English) and ``subscriptions`` WebSub callbacks
    that stall on content; an API token and the partner's subscriber id."""
    from .. import store
    from ..config import load_settings
    from ..http import tokens
    from ..webhooks import subscribers as subs
    from ..webhooks import websub

    settings = load_settings(environ=env)
    engine = store.open_engine(settings.database)
    now = utc_now()
    try:
        partner = subs.add(engine, partner_url, now=now, languages=["en"],
                           allow_networks=settings.webhook_allow_networks)
        with engine.begin() as conn:
            conn.execute(store.deliveries.delete()
                         .where(store.deliveries.c.subscriber_id == partner.id))
            conn.execute(store.subscribers.update()
                         .where(store.subscribers.c.id == partner.id)
                         .values(status="active", verified_at=now))
            for index in range(subscriptions):
                subs.save_websub(
                    conn, callback=f"http://s{index}.stall.test:{stall_port}/post{index}",
                    topic=settings.base_url + TOPIC_PATH, secret="",
                    event_type=websub.CONTENT_EVENT, expires=now + dt.timedelta(days=1),
                    now=now)
        return tokens.issue(engine, "flood", now=now)[1], partner.id
    finally:
        engine.dispose()


async def _sync_a_review(env: dict[str, str]) -> float:
    """Move the bundled answer's review date to today and sync in a process of its own (the
    partner's event, the WebSub distributions); the wall-clock time the sync committed."""
    from ..config import load_settings

    settings = load_settings(environ=env)
    for path in sorted(settings.content_dir.rglob("*.md"))[:1]:
        text = path.read_text(encoding="utf-8")
        today = utc_now().date().isoformat()
        path.write_text(re.sub(r"(?m)^reviewed: .*$", f"reviewed: {today}", text, count=1),
                        encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SYNC, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode != 0:
        raise SyndicateError(f"the sync failed: {err.decode()[-2000:]}")
    return float(out.decode().split()[-1])


_SYNC = """
import os, time
from syndicate import store
from syndicate._time import utc_now
from syndicate.config import load_settings
from syndicate.sync import sync_and_publish
settings = load_settings(environ=os.environ)
engine = store.open_engine(settings.database)
sync_and_publish(engine, settings, now=utc_now())
print(time.time(), flush=True)
"""
"""The sync, in a process of its own; it prints the wall-clock time it committed at."""


async def _attack(base: str, pid: int, env: dict[str, str], token: tuple[str, str],
                  stall_port: int, partner: Receiver, requests: int) -> dict[str, Any]:
    """Flood, probe, sync while flooding, wait for the partner; the figures."""
    probes = _Probes(base, token[0])
    probing = asyncio.create_task(probes.run())
    peak = [0.0, 0]

    async def sample() -> None:
        while not probes.stop.is_set():
            rss, files = service_memory(pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], files)
            await asyncio.sleep(0.1)

    sampling = asyncio.create_task(sample())
    topic = "https://answers.example" + TOPIC_PATH
    flooding = asyncio.create_task(_flood(base, topic, stall_port, requests, 64))
    await asyncio.sleep(1.0)
    committed = await _sync_a_review(env)
    statuses = await flooding
    deadline = time.monotonic() + 20
    while not partner.requests("/hook") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    probes.stop.set()
    await asyncio.gather(probing, sampling)
    arrived = partner.requests("/hook")
    to_wall = time.time() - time.monotonic()
    return {
        "hub_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "refused": sum(v for k, v in statuses.items() if k != 202),
        "feed_p99_ms": probes.p99("feed"), "readyz_p99_ms": probes.p99("readyz"),
        "api_p99_ms": probes.p99("api"),
        "probe_failures": dict(probes.failures),
        "probes": len(probes.latencies["feed"]),
        "partner_delay_s": round(arrived[0].at + to_wall - committed, 3) if arrived else None,
        "rss_peak_mb": round(peak[0], 1), "open_files_peak": peak[1],
    }


def run_flood(workspace: Path, database_url: str, *, logs: Path, requests: int = 1200,
              subscriptions: int = 600, dns_delay: float = 20.0) -> dict[str, Any]:
    """The whole flood (module doc); its figures."""
    env = flood_env(workspace, database_url)
    with StallServer() as stall, Receiver() as partner, \
            service_process(env, logs, dns_delay) as (base, pid):
        token = _seed(env, partner.url("/hook"), stall.port, subscriptions)
        rss_before, files_before = service_memory(pid)
        result = asyncio.run(_attack(base, pid, env, token, stall.port, partner, requests))
    return {"requests": requests, "websub_subscriptions": subscriptions,
            "file_limit": FILE_LIMIT, "rss_before_mb": round(rss_before, 1),
            "open_files_before": files_before, **result}


if __name__ == "__main__":
    serve()
