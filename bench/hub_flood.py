"""Benchmark: the open WebSub hub under a flood, what the flood test measures.

A ``syndicate run`` process on 127.0.0.1 under a 1,024 open-file limit, an injected resolver
(``*.slow.test`` takes 20 s, nothing real is ever resolved), 600 WebSub callbacks that stall
on every content POST and a partner webhook due meanwhile; 1,200 anonymous hub requests
from as many client addresses (``syndicate.testing.flood``). In the same run, the feed's p99
latency is measured first without the flood (the peer the flood's figure compares with).

    python bench/hub_flood.py [--requests 1200] [--subscriptions 600]

The last line printed is one JSON object: hub answers by status and how many were refused,
p99 latency of a feed, /readyz and the partner API during the flood, probe failures, the
partner's first attempt after the sync, the service's peak memory and open files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from syndicate.testing.flood import TOPIC_PATH, flood_env, run_flood, service_process

ROOT = Path(__file__).resolve().parent.parent


def _workspace(folder: Path) -> Path:
    shutil.copytree(ROOT / "content", folder / "content")
    shutil.copytree(ROOT / "locales", folder / "locales")
    return folder


async def _quiet_p99(base: str, count: int = 200) -> float:
    """The feed's p99 latency with nothing else going on (ms)."""
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            (await client.get(TOPIC_PATH)).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return round(latencies[int(len(latencies) * 0.99) - 1], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--subscriptions", type=int, default=600)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        quiet_dir = _workspace(Path(tmp) / "quiet")
        quiet_url = f"sqlite:///{quiet_dir / 'state' / 'syndicate.db'}"
        env = flood_env(quiet_dir, quiet_url)
        with service_process(env, quiet_dir / "logs", 20.0) as (base, _):
            quiet = asyncio.run(_quiet_p99(base))
        flood_dir = _workspace(Path(tmp) / "flood")
        found = run_flood(flood_dir, f"sqlite:///{flood_dir / 'state' / 'syndicate.db'}",
                          logs=flood_dir / "logs", requests=options.requests,
                          subscriptions=options.subscriptions)
    found["feed_p99_ms_quiet"] = quiet
    for key, value in found.items():
        print(f"{key:>24}: {value}")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
