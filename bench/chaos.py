"""Chaos run: the service under faults, then a reconciliation of every event it emitted.

Everything runs on 127.0.0.1 and is bounded in time. A fresh PostgreSQL schema; a temporary
workspace with the bundled content plus a generated corpus (3 languages) and its catalogs;
``--receivers`` webhook receivers (aiohttp, one thread, one port each) registered with
``syndicate subscribers add`` and varied filters (all events, one language, one event type,
one condition). Then ``syndicate run`` (sync every 3 s, deliver every 1 s, retry schedule
``0,1,2,3,5``) and one ``syndicate worker`` run while:

* every 3-5 s the review date of a random answer moves later (a real content change);
* receivers answer at random 200, 500, 429 with ``Retry-After: 1``, hang past the webhook
  timeout (2 s), reset the connection, or answer 200 slowly; every request's signature is
  checked with the ``standardwebhooks`` package;
* at random moments the worker, or ``syndicate run``, is killed with SIGKILL and restarted;
  PostgreSQL is restarted once, half-way;
* every 2 s every feed file on disk is parsed and validated (Atom: RELAX NG of RFC 4287,
  JSON Feed: its JSON schema, RSS: well-formed).

At the end receivers answer 200, the service settles (bounded), the processes stop and the
database and the receivers' records are reconciled. The last line is one JSON object.

    python bench/chaos.py [--seconds 120] [--receivers 50] [--answers 40]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from syndicate import store  # noqa: E402
from syndicate.testing import generate_corpus, postgres_schema  # noqa: E402
from syndicate.webhooks import ANSWER_EVENTS  # noqa: E402

PG_RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect"]
BEHAVIOURS = [("ok", 35), ("500", 15), ("429", 10), ("hang", 10), ("reset", 10), ("slow", 20)]


# -- receivers ------------------------------------------------------------------------------


class Receivers:
    """``count`` webhook receivers on loopback ports, in one background thread."""

    def __init__(self, count: int, seed: int) -> None:
        self.count = count
        self.secrets = [f"whsec_{base64.b64encode(os.urandom(24)).decode()}"
                        for _ in range(count)]
        self.ports: list[int] = []
        self.chaos = False
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []  # one per non-verify request
        self.behaviours: collections.Counter[str] = collections.Counter()
        self.bad_signatures = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(15):
            raise SystemExit("receivers did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}/hook/{index}"

    async def _main(self) -> None:
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hook/{index}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        for _ in range(self.count):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        index = int(request.match_info["index"])
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            Webhook(self.secrets[index]).verify(body, headers)
            signature_ok = True
        except WebhookVerificationError:
            signature_ok = False
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        data = event.get("data") or {}
        if event.get("type") == "endpoint.verify":
            return web.json_response({"challenge": data.get("challenge")})
        with self.lock:
            behaviour = "ok"
            if self.chaos:
                names, weights = zip(*BEHAVIOURS, strict=True)
                behaviour = self.rng.choices(names, weights)[0]
            self.behaviours[behaviour] += 1
            self.bad_signatures += not signature_ok
            self.records.append({
                "receiver": index, "webhook_id": headers.get("webhook-id", ""),
                "type": event.get("type"), "language": data.get("language"),
                "answer_id": data.get("answer_id"), "signature_ok": signature_ok,
                "data": json.dumps(data, sort_keys=True), "behaviour": behaviour,
            })
        if behaviour == "500":
            return web.Response(status=500)
        if behaviour == "429":
            return web.Response(status=429, headers={"Retry-After": "1"})
        if behaviour == "hang":
            await asyncio.sleep(3.5)  # past webhook_timeout
            return web.Response(status=200)
        if behaviour == "reset":
            sock = request.transport.get_extra_info("socket") if request.transport else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if behaviour == "slow":
            await asyncio.sleep(1.2)
        return web.Response(status=200)


# -- processes ------------------------------------------------------------------------------


class Service:
    """A ``syndicate`` subprocess that can be killed and started again."""

    def __init__(self, args: list[str], env: dict[str, str], logs: Path, name: str) -> None:
        self.args, self.env, self.logs, self.name = args, env, logs, name
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.logs / f"{self.name}.{self.starts}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "syndicate", *self.args],
                                     env=self.env, stdout=log, stderr=log)
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def terminate(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def syndicate(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, "-m", "syndicate", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"syndicate {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done.stdout


def restart_postgres() -> float:
    versions = sorted(os.listdir("/etc/postgresql"))
    started = time.monotonic()
    subprocess.run([*PG_RESTART, versions[-1], "main", "restart"], check=True, timeout=120,
                   capture_output=True)
    return round(time.monotonic() - started, 2)


# -- content changes ------------------------------------------------------------------------


def bump_review(content: Path, rng: random.Random) -> str:
    """Move one answer's review date later (and its due date with it), atomically."""
    path = rng.choice(sorted(content.rglob("*.md")))
    text = path.read_text(encoding="utf-8")
    found = re.search(r"^reviewed: (\d{4}-\d{2}-\d{2})$", text, re.M)
    if not found:
        return ""
    reviewed = dt.date.fromisoformat(found.group(1)) + dt.timedelta(days=rng.randint(1, 20))
    reviewed = min(reviewed, dt.datetime.now(dt.UTC).date())
    if reviewed.isoformat() == found.group(1):
        return ""
    text = text.replace(found.group(0), f"reviewed: {reviewed.isoformat()}", 1)
    text = re.sub(r"^review_due: .*$", f"review_due: {(reviewed + dt.timedelta(days=365))}",
                  text, count=1, flags=re.M)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path.name


# -- feed sampling --------------------------------------------------------------------------


class Sampler:
    """Parses every feed file on disk; counts what is invalid or partial."""

    def __init__(self, public: Path) -> None:
        import jsonschema
        from lxml import etree

        self.public = public
        self.etree = etree
        self.rng = etree.RelaxNG(etree.parse(str(ROOT / "tests" / "fixtures" / "atom.rng")))
        schema = json.loads((ROOT / "syndicate" / "schemas" / "jsonfeed-1.1.json").read_text())
        self.json_validator = jsonschema.Draft7Validator(schema)
        self.rounds = 0
        self.files = 0
        self.failures: list[str] = []

    def sample(self) -> None:
        self.rounds += 1
        for path in self.public.rglob("*"):
            name = path.name
            if path.is_dir() or name.startswith("."):
                continue
            kind = ("atom" if name.endswith(".atom") else "json" if name.endswith("feed.json")
                    else "rss" if name.endswith((".rss", "feed.xml")) else None)
            if kind is None:
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # replaced between listing and reading: not a partial file
            self.files += 1
            try:
                if kind == "json":
                    errors = list(self.json_validator.iter_errors(json.loads(data)))
                    if errors:
                        raise ValueError(errors[0].message[:200])
                else:
                    doc = self.etree.fromstring(data)
                    if kind == "atom" and not self.rng.validate(self.etree.ElementTree(doc)):
                        raise ValueError(str(self.rng.error_log.last_error))
            except Exception as exc:
                self.failures.append(f"{path.relative_to(self.public)}: {exc}"[:300])


# -- the run --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--receivers", type=int, default=50)
    parser.add_argument("--answers", type=int, default=40)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg-restart", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (logs)")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    figures: dict[str, Any] = {"seed": options.seed, "seconds": options.seconds,
                               "receivers": options.receivers}
    tmp = tempfile.mkdtemp(prefix="syndicate-chaos-")
    root = Path(tmp)
    logs = root / "logs"
    logs.mkdir()
    receivers = Receivers(options.receivers, options.seed)
    services: list[Service] = []
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_schema(options.postgres, "syndicate_chaos"))
        shutil.copytree(ROOT / "content", root / "content")
        content, _, targets = generate_corpus(root, answers=options.answers, languages=3,
                                              body_bytes=1500)
        languages = ["en", *targets]
        env = {
            **os.environ,
            "SYNDICATE_DATABASE_URL": database_url,
            "SYNDICATE_CONTENT_DIR": str(content),
            "SYNDICATE_LOCALES_DIR": str(root / "locales"),
            "SYNDICATE_OUT_DIR": str(root / "public"),
            "SYNDICATE_STATE_DIR": str(root / "state"),
            "SYNDICATE_BASE_URL": "https://answers.example",
            "SYNDICATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
            "SYNDICATE_LOG_FORMAT": "json",
            "SYNDICATE_PORT": "0",
            "SYNDICATE_WEBHOOK_TIMEOUT": "2",
            "SYNDICATE_DELIVERY_LEASE": "5",
            "SYNDICATE_SYNC_INTERVAL": "3",
            "SYNDICATE_DELIVER_INTERVAL": "1",
            "SYNDICATE_LEADER_LEASE": "5",
            "SYNDICATE_RETRY_SCHEDULE": "0,1,2,3,5",
            "SYNDICATE_SHUTDOWN_TIMEOUT": "10",
        }
        receivers.start()
        stack.callback(receivers.stop)
        syndicate(["db", "upgrade"], env)
        conditions = sorted(p.name for p in content.iterdir() if p.is_dir())

        def add(index: int) -> tuple[int, list[str]]:
            kind = index % 4
            args = ["subscribers", "add", receivers.url(index), "--secret",
                    receivers.secrets[index]]
            if kind == 1:
                args += ["--language", languages[index % len(languages)]]
            elif kind == 2:
                args += ["--event", ANSWER_EVENTS[index % len(ANSWER_EVENTS)]]
            elif kind == 3:
                args += ["--condition", conditions[index % len(conditions)],
                         "--language", languages[(index + 1) % len(languages)]]
            syndicate(args, env)
            return index, args[5:]  # the filters (never the secret)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            filters = dict(pool.map(add, range(options.receivers)))
        engine = sa.create_engine(database_url, pool_pre_ping=True)
        with engine.connect() as conn:
            statuses = collections.Counter(
                conn.execute(sa.select(store.subscribers.c.status)).scalars())
        figures["subscribers"] = dict(statuses)
        print(f"workspace {root}; subscribers {dict(statuses)}", file=sys.stderr)

        run = Service(["run", "--host", "127.0.0.1"], env, logs, "run")
        worker = Service(["worker"], env, logs, "worker")
        services += [run, worker]
        run.start()
        worker.start()
        sampler = Sampler(root / "public")
        receivers.chaos = True
        changes: list[str] = []
        actions: list[str] = []
        started = time.monotonic()
        deadline = started + options.seconds
        next_change = started + 3
        next_sample = started + 2
        next_kill = started + rng.uniform(8, 20)
        pg_at = started + options.seconds * rng.uniform(0.4, 0.6)
        pg_done = options.no_pg_restart
        try:
            while time.monotonic() < deadline:
                now = time.monotonic()
                if now >= next_change:
                    name = bump_review(content, rng)
                    if name:
                        changes.append(name)
                    next_change = now + rng.uniform(3, 5)
                if now >= next_sample:
                    sampler.sample()
                    next_sample = time.monotonic() + 2
                if now >= next_kill:
                    target = run if rng.random() < 0.4 else worker
                    target.kill9()
                    actions.append(f"{now - started:.0f}s kill -9 {target.name}")
                    time.sleep(rng.uniform(0, 2))
                    target.start()
                    next_kill = time.monotonic() + rng.uniform(8, 20)
                if not pg_done and now >= pg_at:
                    took = restart_postgres()
                    actions.append(f"{now - started:.0f}s postgres restart ({took} s)")
                    pg_done = True
                for service in services:  # anything that died on its own comes back
                    if not service.alive():
                        actions.append(f"{now - started:.0f}s {service.name} had exited "
                                       f"{service.proc.returncode if service.proc else None}")
                        service.start()
                time.sleep(0.2)
            # Settle: no more faults, no more changes; the last change gets synced.
            receivers.chaos = False
            settle_started = time.monotonic()
            time.sleep(8)
            pending = -1
            while time.monotonic() - settle_started < 90:
                for service in services:
                    if not service.alive():
                        service.start()
                with engine.connect() as conn:
                    pending = conn.execute(
                        sa.select(sa.func.count()).select_from(store.deliveries)
                        .where(store.deliveries.c.state == "pending")).scalar_one()
                if pending == 0:
                    break
                time.sleep(1)
            sampler.sample()
            figures["settle_seconds"] = round(time.monotonic() - settle_started, 1)
            figures["pending_after_settle"] = pending
        finally:
            receivers.chaos = False
            figures["exit_codes"] = {s.name: s.terminate() for s in services}
        figures["kills"] = {s.name: s.kills for s in services}
        figures["actions"] = actions
        figures["review_changes"] = len(changes)
        texts = {path.name: path.read_text(errors="replace") for path in logs.glob("*.log")}
        figures["worker_db_pauses"] = sum(t.count("database unavailable: delivery paused")
                                          for t in texts.values())
        figures["logs_with_traceback"] = sorted(n for n, t in texts.items() if "Traceback" in t)
        time.sleep(0.5)
        figures.update(reconcile(engine, receivers, filters))
        figures["feed_samples"] = {"rounds": sampler.rounds, "files": sampler.files,
                                   "failures": len(sampler.failures),
                                   "examples": sampler.failures[:5]}
        engine.dispose()
    if not options.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        figures["workspace"] = str(root)
    report(figures)


def reconcile(engine: sa.engine.Engine, receivers: Receivers,
              filters: dict[int, list[str]]) -> dict[str, Any]:
    from syndicate.webhooks import subscribers as subs

    with engine.connect() as conn:
        subscribers = subs.list_all(conn)
        events = conn.execute(sa.select(store.events)).mappings().all()
        deliveries = conn.execute(sa.select(store.deliveries)).mappings().all()
    by_url = {s.url: s for s in subscribers}
    index_of = {by_url[receivers.url(i)].id: i for i in range(receivers.count)
                if receivers.url(i) in by_url}
    broadcast = [e for e in events if e["subscriber_id"] is None]
    event_by_id = {e["id"]: e for e in events}
    delivery_by = {(d["event_id"], d["subscriber_id"]): d for d in deliveries}
    with receivers.lock:
        records = list(receivers.records)
    got: dict[tuple[str, int], list[dict[str, Any]]] = collections.defaultdict(list)
    for record in records:
        got[(record["webhook_id"], record["receiver"])].append(record)
    counts: collections.Counter[str] = collections.Counter()
    lost_examples: list[str] = []
    expected_pairs = set()
    for event in broadcast:
        for sub in subscribers:
            if sub.id not in index_of or not sub.wants(event["type"], event["language"],
                                                       event["condition_slug"]):
                continue
            expected_pairs.add((event["id"], sub.id))
            counts["expected"] += 1
            row = delivery_by.get((event["id"], sub.id))
            seen = got.get((event["id"], index_of[sub.id]), [])
            verified = any(r["signature_ok"] for r in seen)
            if row is not None and row["state"] == "delivered" and verified:
                counts["delivered_verified"] += 1
            elif row is not None and row["state"] == "dead":
                counts["dead_lettered"] += 1
            else:
                counts["lost"] += 1
                if len(lost_examples) < 5:
                    lost_examples.append(f"{event['id']} -> {sub.id}: row "
                                         f"{row['state'] if row else None}, seen {len(seen)}")
    for (webhook_id, index), seen in got.items():
        event = event_by_id.get(webhook_id)
        sub_id = next((sid for sid, i in index_of.items() if i == index), None)
        if event is None or (webhook_id, sub_id) not in expected_pairs:
            counts["unexpected"] += len(seen)
        if len(seen) > 1:
            counts["duplicate_requests_same_id"] += len(seen) - 1
        # Sent again although the receiver had already answered 2xx in time (e.g. a kill -9
        # between the answer and the record): at-least-once, same id.
        first_ok = next((n for n, r in enumerate(seen) if r["behaviour"] in ("ok", "slow")), None)
        if first_ok is not None:
            counts["repeats_after_success"] += len(seen) - first_ok - 1
    # The same content (type and data) reaching one receiver under different webhook-ids.
    same: dict[tuple[int, str, str], set[str]] = collections.defaultdict(set)
    for record in records:
        same[(record["receiver"], record["type"], record["data"])].add(record["webhook_id"])
    counts["duplicates_different_ids"] = sum(len(ids) - 1 for ids in same.values())
    states = collections.Counter(d["state"] for d in deliveries)
    return {
        "events": len(events), "broadcast_events": len(broadcast),
        "event_types": dict(collections.Counter(e["type"] for e in broadcast)),
        "delivery_states": dict(states), "requests": len(records),
        "behaviours": dict(receivers.behaviours),
        "invalid_signatures": receivers.bad_signatures,
        "expected": counts["expected"], "delivered_verified": counts["delivered_verified"],
        "dead_lettered": counts["dead_lettered"], "lost": counts["lost"],
        "lost_examples": lost_examples, "unexpected": counts["unexpected"],
        "duplicate_requests_same_id": counts["duplicate_requests_same_id"],
        "duplicates_different_ids": counts["duplicates_different_ids"],
        "repeats_after_success": counts["repeats_after_success"],
        "filters": {str(k): v for k, v in filters.items() if v},
    }


def report(figures: dict[str, Any]) -> None:
    rows = [
        ("events (broadcast)", figures.get("broadcast_events")),
        ("expected (event, subscriber) deliveries", figures.get("expected")),
        ("  delivered and signature verified", figures.get("delivered_verified")),
        ("  dead-lettered by the retry policy", figures.get("dead_lettered")),
        ("  lost", figures.get("lost")),
        ("unexpected (filters exclude it)", figures.get("unexpected")),
        ("repeats of the same webhook-id (allowed)", figures.get("duplicate_requests_same_id")),
        ("  of which after a 2xx answer", figures.get("repeats_after_success")),
        ("same event under different ids", figures.get("duplicates_different_ids")),
        ("invalid signatures", figures.get("invalid_signatures")),
        ("webhook requests received", figures.get("requests")),
        ("feed files sampled", figures.get("feed_samples", {}).get("files")),
        ("feed sampling failures", figures.get("feed_samples", {}).get("failures")),
        ("pending after settling", figures.get("pending_after_settle")),
    ]
    for label, value in rows:
        print(f"{label:45} {value}")
    print("actions: " + "; ".join(figures.get("actions", [])))
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
