"""Load: 200 concurrent clients against a real ``syndicate run`` while a sync runs.

The service (a subprocess, SQLite by default) serves a generated corpus (200 answers in 3
languages). One asyncio process runs the clients on aiohttp, each looping until the time is
up: three in four requests are conditional GETs of the five feeds it follows
(``If-None-Match`` with the last ETag seen, so 200 or 304), the rest walk the subscription
API with a partner token (create, get, list, delete). A third of the way in, review dates
of 20 answers change and ``syndicate jobs run sync`` runs beside the load, so feeds are
rewritten under the readers.

An error is any status outside the expected ones for the request (feed 200/304, create 201,
get and list 200, delete 204) or any connection error or timeout. The API rate limit is
raised for the run through the settings (``api_rate_limit``, ``api_rate_burst``).

    python bench/load.py [--seconds 30] [--clients 200] [--answers 200]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp

from syndicate.testing import generate_corpus, postgres_schema

EXPECTED = {"feed": {200, 304}, "create": {201}, "get": {200}, "list": {200}, "delete": {204}}


def _env(root: Path, database_url: str, content: Path, locales: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SYNDICATE_DATABASE_URL": database_url,
        "SYNDICATE_CONTENT_DIR": str(content),
        "SYNDICATE_LOCALES_DIR": str(locales),
        "SYNDICATE_OUT_DIR": str(root / "public"),
        "SYNDICATE_STATE_DIR": str(root / "state"),
        "SYNDICATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "SYNDICATE_LOG_FORMAT": "json",
        "SYNDICATE_PORT": "0",
        "SYNDICATE_SYNC_INTERVAL": "3600",
        "SYNDICATE_DELIVER_INTERVAL": "5",
        "SYNDICATE_API_RATE_LIMIT": "1000000",
        "SYNDICATE_API_RATE_BURST": "1000000",
    }


def _syndicate(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "syndicate", *args], env=env, **kwargs)  # type: ignore[call-overload, no-any-return]


def _wait_for_url(out: Path, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:[0-9]+", out.read_text())
        if found:
            return found.group(0)
        if proc.poll() is not None:
            raise SystemExit(f"syndicate run exited {proc.returncode}")
        time.sleep(0.1)
    raise SystemExit("syndicate run printed no URL in time")


def _touch_reviews(content: Path, count: int, day: int) -> None:
    """Change the review date of ``count`` answers (a real content change)."""
    for path in sorted(content.rglob("*.md"))[:count]:
        lines = path.read_text(encoding="utf-8").split("\n")
        for index, line in enumerate(lines):
            if line.startswith("reviewed:"):
                # A new review date, in the past (a future one is refused).
                lines[index] = f"reviewed: 2026-06-{1 + day % 28:02d}"
                break
        path.write_text("\n".join(lines), encoding="utf-8")


class Stats:
    """Latencies and outcomes per request kind."""

    def __init__(self) -> None:
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        self.statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()

    def record(self, kind: str, started: float, status: int | str) -> None:
        self.latencies[kind].append(time.perf_counter() - started)
        self.statuses[kind][str(status)] += 1
        if status not in EXPECTED[kind]:
            self.errors[f"{kind} {status}"] += 1


async def _request(session: aiohttp.ClientSession, stats: Stats, kind: str, method: str,
                   url: str, **kwargs: object) -> tuple[int, str, bytes]:
    started = time.perf_counter()
    try:
        async with session.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
            body = await response.read()
            stats.record(kind, started, response.status)
            return response.status, response.headers.get("etag", ""), body
    except (aiohttp.ClientError, TimeoutError) as exc:
        stats.record(kind, started, type(exc).__name__)
        return 0, "", b""


async def _client(number: int, base: str, feeds: list[str], tokens: list[str],
                  session: aiohttp.ClientSession, stats: Stats, deadline: float) -> None:
    rng = random.Random(number)
    etags: dict[str, str] = {}
    mine = rng.sample(feeds, min(5, len(feeds)))  # a reader polls a few feeds again and again
    auth = {"authorization": f"Bearer {tokens[number % len(tokens)]}"}
    api = f"{base}/api/v1/subscriptions"
    while time.monotonic() < deadline:
        if rng.random() < 0.75:
            path = rng.choice(mine)
            headers = {"if-none-match": etags[path]} if path in etags else {}
            status, got, _ = await _request(session, stats, "feed", "GET", base + path,
                                            headers=headers)
            if status == 200 and got:
                etags[path] = got
            continue
        status, _, body = await _request(
            session, stats, "create", "POST", api, headers=auth,
            json={"url": f"http://127.0.0.1:9/load/{number}", "languages": ["en"]})
        if status != 201:
            continue
        sub_id = json.loads(body)["subscription"]["id"]
        await _request(session, stats, "get", "GET", f"{api}/{sub_id}", headers=auth)
        await _request(session, stats, "list", "GET", api, headers=auth)
        await _request(session, stats, "delete", "DELETE", f"{api}/{sub_id}", headers=auth)


def _sync_during_load(env: dict[str, str], content: Path, out: Path) -> dict[str, float | int]:
    _touch_reviews(content, 20, 2)
    started = time.monotonic()
    with out.open("w") as log:
        code = _syndicate(["jobs", "run", "sync"], env, stdout=log, stderr=log).wait(300)
    return {"exit": code, "seconds": round(time.monotonic() - started, 2)}


async def _load(base: str, feeds: list[str], tokens: list[str], clients: int, seconds: float,
                env: dict[str, str], content: Path, root: Path) -> dict[str, object]:
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     auto_decompress=False) as session:
        started = time.monotonic()
        deadline = started + seconds
        tasks = [asyncio.create_task(_client(n, base, feeds, tokens, session, stats, deadline))
                 for n in range(clients)]
        await asyncio.sleep(seconds / 3)
        sync = await asyncio.to_thread(_sync_during_load, env, content, root / "sync.log")
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
    total = sum(len(v) for v in stats.latencies.values())
    kinds = {
        kind: {
            "requests": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 2),
            "p99_ms": round(sorted(values)[int(len(values) * 0.99) - 1] * 1000, 2),
            "statuses": dict(stats.statuses[kind]),
        }
        for kind, values in sorted(stats.latencies.items())
    }
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": total,
            "requests_per_s": round(total / elapsed, 1), "errors": sum(stats.errors.values()),
            "error_kinds": dict(stats.errors), "sync": sync, "kinds": kinds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL URL (a fresh schema is used)")
    options = parser.parse_args()
    with (tempfile.TemporaryDirectory(prefix="syndicate-load-") as tmp,
          contextlib.ExitStack() as stack):
        root = Path(tmp)
        content, locales, _ = generate_corpus(root, answers=options.answers, languages=3,
                                              body_bytes=2000)
        database_url = (stack.enter_context(postgres_schema(options.postgres, "syndicate_load"))
                        if options.postgres else f"sqlite:///{root / 'state' / 'syndicate.db'}")
        env = _env(root, database_url, content, locales)
        out = root / "run.out"
        with out.open("w") as log:
            proc = _syndicate(["run", "--host", "127.0.0.1"], env, stdout=log, stderr=log)
        try:
            base = _wait_for_url(out, proc, 120)
            deadline = time.monotonic() + 300
            while not (root / "public" / "en" / "feed.atom").exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the first sync did not publish in time")
                time.sleep(0.2)
            public = root / "public"
            feeds = sorted("/" + p.relative_to(public).as_posix() for p in public.rglob("feed.*"))
            tokens = []
            for number in range(10):
                issued = subprocess.run(
                    [sys.executable, "-m", "syndicate", "tokens", "issue", f"load-{number}"],
                    env=env, capture_output=True, text=True, timeout=60, check=True)
                tokens.append(issued.stdout.strip())
            print(f"serving {len(feeds)} feeds at {base}; {options.clients} clients for "
                  f"{options.seconds:g} s", file=sys.stderr)
            result = asyncio.run(_load(base, feeds, tokens, options.clients, options.seconds,
                                       env, content, root))
            result["database"] = "postgresql" if options.postgres else "sqlite"
            result["feeds"] = len(feeds)
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    for kind, figures in result["kinds"].items():  # type: ignore[attr-defined]
        print(f"{kind:7} {figures['requests']:7} req  p50 {figures['p50_ms']:8.2f} ms  "
              f"p99 {figures['p99_ms']:8.2f} ms  {figures['statuses']}")
    print(f"{result['requests']} requests in {result['seconds']} s: {result['requests_per_s']}/s, "
          f"{result['errors']} errors; sync during load {result['sync']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
