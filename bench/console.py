"""Benchmark: every console page's time at 1,000 answers x 10 languages, 100 subscribers and
100,000 delivery attempts, against the 100 ms floor.

    python bench/console.py            # SQLite
    python bench/console.py --requests 50
    SYNDICATE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1/test \
        python bench/console.py

The corpus comes from :func:`syndicate.testing.generate_corpus` and is synced once (10,000
renditions); 100 partners' subscribers get 1,000 events each (100,000 deliveries, written
straight to the store) and one attempt per delivery, spread over the last 24 hours (90 %
answered 200, the rest 500 or no answer; 1 % of the deliveries dead, 1 % still pending);
on PostgreSQL the tables are then vacuumed and analyzed, as autovacuum would have done in a
running deployment (otherwise it starts in the middle of the measurements).
The console is served by uvicorn on a loopback port, as ``syndicate run`` serves it; each
page is requested once (``cold_ms``: the translators' and the content pages answer at once
and read the answers and catalogs in the background), then, once its figures are up to
date, ``--requests`` times. Then a translator saves one catalog: ``translator_after_save``
is the next page's time (the last figures, marked as being updated) and the seconds until
the page shows the new figures. Then the translators' first read again, as a new process
makes it (nothing in its memory): ``translator_first_read`` gives the first page's time
and the seconds until it shows the figures, ``cold`` with ``<state>/i18n-cache`` empty
(every catalog read and checked), ``warm`` with it filled, as a translator's ``syndicate
i18n status`` or an earlier process leaves it. A page's time is measured by the client
over loopback, so it includes the HTTP exchange: an upper bound of the server's
time. The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

FLOOR_MS = 100.0


def _seed(engine: Any, now: dt.datetime, subscribers: int, events: int) -> list[str]:
    """Subscribers, deliveries and one attempt per delivery; the subscribers' ids."""
    from syndicate import store
    from syndicate.testing.services import seed_deliveries

    urls = [f"http://127.0.0.1:9/hook-{index}" for index in range(subscribers)]
    # ids as the API makes them (sub_ and 16 hex digits), so the console finds them
    seed_deliveries(engine, urls, events, now=now - dt.timedelta(hours=23), prefix="0" * 11)
    d, s = store.deliveries.c, store.subscribers.c
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(s.id).where(s.id.like("sub_00000000000%")).order_by(s.id))
                   .scalars())
        for index, subscriber_id in enumerate(ids):
            conn.execute(store.subscribers.update().where(s.id == subscriber_id)
                         .values(owner=f"partner-{index:03d}"))
        rows = conn.execute(sa.select(d.id).order_by(d.id)).scalars().all()
        span = 23 * 3600
        attempts = []
        for number, delivery_id in enumerate(rows):
            code = 200 if number % 10 else (500 if number % 20 else None)
            attempts.append({
                "delivery_id": delivery_id, "number": 1, "status_code": code,
                "duration_ms": 20.0 + number % 50, "error": None if code == 200 else "HTTP 500",
                "attempted_at": now - dt.timedelta(seconds=span * (1 - number / len(rows)))})
        for start in range(0, len(attempts), 10_000):
            conn.execute(store.attempts.insert(), attempts[start:start + 10_000])
        conn.execute(store.deliveries.update().where(d.id % 100 != 0).where(d.id % 100 != 1)
                     .values(state="delivered", delivered_at=now - dt.timedelta(hours=1),
                             attempts=1))
        conn.execute(store.deliveries.update().where(d.id % 100 == 0)
                     .values(state="dead", attempts=8, last_status=500, last_error="HTTP 500"))
    return ids


def _sign_in(client: httpx.Client, credential: str) -> None:
    page = client.get("/console/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    response = client.post("/console/sign-in", data={"csrf": csrf.group(1),
                                                     "credential": credential})
    assert response.status_code == 303, response.text[:300]


def _until_current(client: httpx.Client, path: str) -> float:
    """Reload ``path`` until its figures are up to date; the seconds it took."""
    started = time.perf_counter()
    while "Reload the page in a few seconds" in client.get(path).text:
        time.sleep(0.1)
    return round(time.perf_counter() - started, 2)


def _first_read(client: httpx.Client, state_dir: Path) -> dict[str, float]:
    """``/console/translate/`` read by a new process (nothing in its memory): the first
    page's time and the seconds until it shows the figures, with the shared i18n cache
    emptied (cold), then with it filled (warm)."""
    import shutil

    from syndicate.console.cache import CACHE

    found = {}
    for name in ("cold", "warm"):
        CACHE.settle()
        CACHE.clear()
        if name == "cold":
            shutil.rmtree(state_dir / "i18n-cache", ignore_errors=True)
        started = time.perf_counter()
        response = client.get("/console/translate/")
        found[f"{name}_page_ms"] = round((time.perf_counter() - started) * 1000, 1)
        assert response.status_code == 200, response.text[:300]
        found[f"{name}_figures_s"] = _until_current(client, "/console/translate/")
    return found


def _after_save(client: httpx.Client, locales_dir: Path) -> dict[str, float]:
    """``/console/translate/`` just after a translator saves one catalog (one message
    changed): how long the page takes (the last figures, marked as being updated) and how
    long until it shows the new ones (checked in the background)."""
    path = "/console/translate/"
    assert "being checked again" not in client.get(path).text
    po = locales_dir / "es" / "LC_MESSAGES" / "syndicate.po"
    text = po.read_text("utf-8")
    edited = text.replace('msgstr "[es] ', 'msgstr "[es] (revised) ', 1)
    assert edited != text
    po.write_text(edited, "utf-8")
    saved = time.perf_counter()
    response = client.get(path)
    page_ms = (time.perf_counter() - saved) * 1000
    assert response.status_code == 200 and "being checked again" in response.text
    _until_current(client, path)
    return {"page_ms": round(page_ms, 1), "updated_s": round(time.perf_counter() - saved, 2)}


def _time(client: httpx.Client, path: str, requests: int) -> dict[str, float]:
    started = time.perf_counter()
    first = client.get(path)
    cold = (time.perf_counter() - started) * 1000
    assert first.status_code == 200, (path, first.status_code, first.text[:300])
    _until_current(client, path)  # pages whose figures are computed in the background
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return {"cold_ms": round(cold, 1), "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            "max_ms": round(times[-1], 1), "bytes": len(first.content)}


# Longer than 60 lines: the setup of one benchmark, its measurement and its report in order.
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--languages", type=int, default=10)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=1000, help="events per subscriber")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    from syndicate import store
    from syndicate.config import load_settings
    from syndicate.console import create_console, create_credential
    from syndicate.http import RateLimiter, create_app
    from syndicate.http import tokens as api_tokens
    from syndicate.sync import sync_and_publish
    from syndicate.testing import generate_corpus
    from syndicate.testing.services import postgres_schema, serve_asgi

    with (tempfile.TemporaryDirectory(prefix="console-bench-") as raw,
          contextlib.ExitStack() as stack):
        root = Path(raw)
        pg = os.environ.get("SYNDICATE_BENCH_POSTGRES_URL")
        url = stack.enter_context(postgres_schema(pg)) if pg else f"sqlite:///{root / 'db.sqlite'}"
        began = time.perf_counter()
        content, locales, _ = generate_corpus(root, args.answers, args.languages)
        settings = load_settings(overrides={
            "content_dir": content, "locales_dir": locales, "out_dir": root / "public",
            "state_dir": root / "state", "database_url": url,
            "webhook_allow_networks": ["127.0.0.0/8"], "base_url": "https://answers.example"})
        engine = store.open_engine(settings.database)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        sync_and_publish(engine, settings, now=now)
        ids = _seed(engine, now, args.subscribers, args.events)
        if pg:  # what autovacuum does to a running deployment, done now rather than mid-run
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE")
        with engine.connect() as conn:
            counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                      for t in (store.renditions, store.subscribers, store.deliveries,
                                store.attempts)}
        print(f"seeded in {time.perf_counter() - began:.1f} s: {counts}", file=sys.stderr)
        console = create_console(settings, engine, limiter=RateLimiter(1000, 1000),
                                 warm=True)  # as syndicate run creates it
        app = create_app(settings, engine, mounts=[("/console", console)])
        base = stack.enter_context(serve_asgi(app))
        views = {
            "partner": (api_tokens.issue(engine, "partner-007", now=now)[1], [
                "/console/partner/", f"/console/partner/subscriptions/{ids[7]}",
                f"/console/partner/subscriptions/{ids[7]}?status=failed",
                "/console/partner/events"]),
            "operator": (create_credential(engine, "bench", "operator", now=now)[1], [
                "/console/operator/", "/console/operator/jobs/sync",
                "/console/operator/subscribers", "/console/operator/content",
                "/console/translate/", "/console/translate/de"]),
        }
        pages: dict[str, dict[str, float]] = {}
        first_read: dict[str, float] = {}
        saved: dict[str, float] = {}
        for credential, paths in views.values():
            with httpx.Client(base_url=base, timeout=60, follow_redirects=False) as client:
                _sign_in(client, credential)
                for path in paths:
                    pages[path] = _time(client, path, args.requests)
                    print(f"{path}: {pages[path]}", file=sys.stderr)
                if "/console/translate/" in paths:
                    saved = _after_save(client, settings.locales_dir)
                    print(f"after a catalog is saved: {saved}", file=sys.stderr)
                    first_read = _first_read(client, settings.state_dir)
                    print(f"translator first read: {first_read}", file=sys.stderr)
        engine.dispose()
    worst = max(page["p95_ms"] for page in pages.values())
    print(json.dumps({
        "bench": "console", "backend": "postgresql" if pg else "sqlite",
        "answers": args.answers, "languages": args.languages, "rows": counts,
        "requests": args.requests, "floor_ms": FLOOR_MS, "worst_p95_ms": worst,
        "ok": worst < FLOOR_MS, "pages": pages, "translator_after_save": saved,
        "translator_first_read": first_read,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3]
        if Path("/proc/loadavg").exists() else None,
    }))
    return 0 if worst < FLOOR_MS else 1


if __name__ == "__main__":
    sys.exit(main())
