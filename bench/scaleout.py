"""Scale-out benchmark: deliveries/s with 1, 2 and 4 ``syndicate worker`` processes on
PostgreSQL, and with one process on SQLite, in one run, against local receivers.

Receivers: one aiohttp process with 100 ports answering 204 (``bench/delivery.py --serve``).
For each configuration: a checkpoint of the PostgreSQL server (so no configuration pays for
another's write-ahead log), a fresh database (a new PostgreSQL schema, or a new SQLite
file), the workers started and idle, then 40,000 deliveries (400 events x 100 subscribers)
made due in one transaction; the time runs from that commit until every delivery is
recorded as delivered (on PostgreSQL after ``ANALYZE``, as the ``sync`` job does after a
large fan-out). Rounds are interleaved (every configuration once per round) and medians
reported, because a shared machine's load moves between measurements. Over the same
interval, from ``/proc``: CPU time per delivery of the worker processes, of the PostgreSQL
backends serving them (found by ``application_name``) and of the receiver; the cores the
whole machine kept busy; context switches per delivery.

    python bench/scaleout.py [--deliveries 40000] [--rounds 5] [--only postgres_1,postgres_4]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from syndicate import store
from syndicate.testing import postgres_schema, seed_deliveries

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBERS = 100


@contextlib.contextmanager
def receivers() -> Iterator[tuple[int, list[int]]]:
    """The receiver process: its pid and its ports."""
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "delivery.py"), "--serve",
                                str(SUBSCRIBERS)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.pid, json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> tuple[float, float, int]:
    """Busy and total CPU seconds of the whole machine so far, and its context switches
    (``/proc/stat``)."""
    lines = Path("/proc/stat").read_text().splitlines()
    fields = [int(v) for v in lines[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    switches = next(int(line.split()[1]) for line in lines if line.startswith("ctxt "))
    return (total - idle) / TICKS, total / TICKS, switches


def backends(engine: sa.Engine, url: str) -> list[int]:
    """Server process ids of the connections made with ``url``'s application_name."""
    name = sa.engine.make_url(url).query.get("application_name")
    if engine.dialect.name != "postgresql" or not name:
        return []
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :name"
        ), {"name": name}).scalars())


def checkpoint(server: str) -> None:
    """Flush PostgreSQL's dirty pages now, so no configuration pays for the write-ahead log
    another one left (a checkpoint falling inside one measurement, not the next); skipped
    without the privilege."""
    admin = sa.create_engine(server)
    try:
        with admin.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("CHECKPOINT")
    except sa.exc.DBAPIError as exc:
        print(f"no CHECKPOINT between configurations: {exc.orig}", file=sys.stderr)
    finally:
        admin.dispose()


def measure(url: str, workers: int, receiver: int, ports: list[int], events: int,
            tmp: Path) -> dict[str, float]:
    """Deliveries per second with ``workers`` worker processes on ``url``; CPU ms per
    delivery of the workers, of their PostgreSQL backends and of the receiver; the cores
    the whole machine kept busy."""
    engine = store.open_engine(url)
    env = {**os.environ, "SYNDICATE_DATABASE_URL": url, "SYNDICATE_DELIVER_INTERVAL": "0.05",
           "SYNDICATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8", "SYNDICATE_LOG_FORMAT": "json",
           "SYNDICATE_STATE_DIR": str(tmp)}
    procs = [subprocess.Popen([sys.executable, "-m", "syndicate", "worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(workers)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert "delivering" in proc.stdout.readline()
        urls = [f"http://127.0.0.1:{port}/hook" for port in ports]
        seed_deliveries(engine, urls, events, now=dt.datetime.now(dt.UTC))
        if engine.dialect.name == "postgresql":
            # Fresh statistics, as the sync job leaves them after a large fan-out (and
            # autovacuum within a minute): the steady state, not a planner guessing 1 row.
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE deliveries, subscribers, events")
        before = {pid: cpu_seconds(pid) for pid in [p.pid for p in procs]
                  + [receiver] + backends(engine, url)}
        busy_before, total_before, switches_before = machine_busy()
        started = time.perf_counter()
        total = events * len(urls)
        query = (sa.select(sa.func.count()).select_from(store.deliveries)
                 .where(store.deliveries.c.state == "delivered"))
        deadline = started + 600
        while time.perf_counter() < deadline:
            with engine.connect() as conn:
                if conn.execute(query).scalar_one() == total:
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError("deliveries did not finish in 10 minutes")
        elapsed = time.perf_counter() - started
        busy_after, total_after, switches_after = machine_busy()
        worker_pids = {p.pid for p in procs}
        used = {pid: cpu_seconds(pid) - before.get(pid, 0.0)
                for pid in worker_pids | set(backends(engine, url)) | set(before)}
        worker_cpu = sum(v for pid, v in used.items() if pid in worker_pids)
        receiver_cpu = used.pop(receiver, 0.0)
        server_cpu = sum(v for pid, v in used.items() if pid not in worker_pids and v > 0)
        cores = os.cpu_count() or 1
        return {
            "rate": total / elapsed, "worker_ms": worker_cpu * 1000 / total,
            "postgres_ms": server_cpu * 1000 / total, "receiver_ms": receiver_cpu * 1000 / total,
            "busy_cores": cores * (busy_after - busy_before) / (total_after - total_before),
            "switches": (switches_after - switches_before) / total,
        }
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        engine.dispose()


def main() -> None:
    """Run every configuration for every round; print figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get(
        "SYNDICATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--only", default="",
                        help="comma-separated subset of postgres_1,postgres_2,postgres_4,sqlite_1 "
                             "(for quick comparisons; the goals need all four)")
    args = parser.parse_args()
    events = max(1, args.deliveries // SUBSCRIBERS)
    configs = [("postgres", 1), ("postgres", 2), ("postgres", 4), ("sqlite", 1)]
    if args.only:
        wanted = set(args.only.split(","))
        configs = [(db, n) for db, n in configs if f"{db}_{n}" in wanted]
    figures: dict[str, list[dict[str, float]]] = {f"{db}_{n}": [] for db, n in configs}
    with receivers() as (receiver, ports):
        for round_ in range(args.rounds):
            for db, workers in configs:
                checkpoint(args.postgres)
                with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
                    if db == "sqlite":
                        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                    else:
                        url = stack.enter_context(postgres_schema(args.postgres, "syndicate_bench"))
                    got = measure(url, workers, receiver, ports, events, Path(tmp))
                figures[f"{db}_{workers}"].append(got)
                print(f"round {round_ + 1}: {db} x{workers}: {got['rate']:,.0f} deliveries/s; "
                      f"CPU per delivery: workers {got['worker_ms']:.3f} ms, postgres "
                      f"{got['postgres_ms']:.3f} ms, receiver {got['receiver_ms']:.3f} ms; "
                      f"machine busy {got['busy_cores']:.2f} of {os.cpu_count()} cores, "
                      f"{got['switches']:.1f} context switches per delivery",
                      flush=True)

    def median(key: str, figure: str, digits: int = 3) -> float:
        return round(statistics.median(got[figure] for got in figures[key]), digits)

    medians = {key: statistics.median(got["rate"] for got in values)
               for key, values in figures.items()}
    result: dict[str, object] = {
        "deliveries": events * SUBSCRIBERS, "subscribers": SUBSCRIBERS, "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "per_s": {key: round(value) for key, value in medians.items()},
        "per_s_all": {key: [round(got["rate"]) for got in values]
                      for key, values in figures.items()},
        "worker_cpu_ms": {key: median(key, "worker_ms") for key in figures},
        "postgres_cpu_ms": {key: median(key, "postgres_ms") for key in figures
                            if key.startswith("postgres")},
        "receiver_cpu_ms": {key: median(key, "receiver_ms") for key in figures},
        "busy_cores": {key: median(key, "busy_cores", 2) for key in figures},
        "context_switches": {key: median(key, "switches", 1) for key in figures},
    }
    if {"postgres_1", "postgres_2", "postgres_4", "sqlite_1"} <= medians.keys():
        result["speedup_4_vs_1"] = round(medians["postgres_4"] / medians["postgres_1"], 2)
        result["speedup_2_vs_1"] = round(medians["postgres_2"] / medians["postgres_1"], 2)
        result["sqlite_vs_postgres_1"] = round(medians["sqlite_1"] / medians["postgres_1"], 2)
        result["goal_4_workers_1_2x"] = medians["postgres_4"] >= 1.2 * medians["postgres_1"]
        result["goal_postgres_within_1_5x_sqlite"] = (
            medians["sqlite_1"] <= 1.5 * medians["postgres_1"])
    for key, value in medians.items():
        print(f"{key}: {value:,.0f} deliveries/s (median)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
