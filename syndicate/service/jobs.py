"""The scheduled jobs and their run history: ``sync``, ``deliver`` and ``report``.

Every run, whoever starts it (the scheduler on a tick, or ``syndicate jobs run NAME`` in an
operator's shell), goes through :meth:`JobRunner.run`:

1. a ``job_runs`` row is written first; a scheduled run carries its tick (``scheduled_for``)
   and the table is unique per (job, tick), so a tick is run at most once even if two
   processes briefly both believed they led;
2. the job's lease ``job:NAME`` is taken (and renewed while the run lasts): one run of a job
   at a time across every process, which is ``max_instances=1`` for the whole deployment.
   A run that finds it taken is recorded as ``skipped``;
3. the job runs; its outcome (``ok`` or ``error``, with the error), end time and a summary
   are recorded, older runs beyond ``job_history`` are pruned, the lease is given back and
   the metrics callback, if any, is told ``(job, outcome, seconds)``. Outcomes are the one
   vocabulary of :data:`syndicate.metrics.OUTCOMES`.

A scheduled run that finds ticks skipped since the previous scheduled run (no scheduler was
running) records them as one ``missed`` run naming how many, and counts them in the metrics.
A run that did nothing (``deliver`` with nothing due) logs at debug and is marked ``idle``
in its summary; a run that did work logs one line at info with its summary. A sync logs
each content problem (``file:line``) when it first appears and when it is gone, not at every
tick, and keeps them, with the refused translations, in its summary: ``syndicate status``,
the report and ``/metrics`` read them from there.

Jobs are idempotent: ``sync`` derives event ids from content (a re-run enqueues nothing
new), ``deliver`` sends what is due (claims are leases) and first samples the queue for the
console's chart (once a minute per process, one row per minute in the store), ``report``
only reads.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import Clock, process_name, rfc3339, utc_now
from ..config import Settings
from ..errors import ConfigError, JobError
from ..metrics import ERROR, MISSED, OK, RUNNING, SKIPPED, last_sync_summary
from ..store import job_runs, record_queue_sample
from ..sync import SyncResult, sync_and_publish
from ..webhooks import PinnedTransport, Stats, Worker
from . import leases
from .report import collect

if TYPE_CHECKING:
    from ..metrics import Metrics

JobMetrics = Callable[[str, str, float], None]
"""Told ``(job, outcome, seconds)`` after every run, e.g.
:meth:`syndicate.metrics.Metrics.record_job_run`."""
TransportFactory = Callable[[], httpx.AsyncBaseTransport]

JOBS = ("sync", "deliver", "report")
KEPT = 200
"""Content problems and refused translations (per language) a sync keeps in full in its
summary; beyond, only their number."""
ANALYZE_AFTER = 1000
"""Deliveries enqueued by one sync after which PostgreSQL's statistics are refreshed."""
log = logging.getLogger("syndicate.jobs")


def interval(settings: Settings, job: str) -> float:
    """Seconds between two scheduled runs of ``job``."""
    intervals = {"sync": settings.sync_interval, "deliver": settings.deliver_interval,
                 "report": settings.report_interval}
    if job not in intervals:
        raise JobError(f"no job named {job!r} (jobs: {', '.join(JOBS)})", job=job)
    return intervals[job]


def misfire_grace(settings: Settings, job: str) -> int:
    """How late a scheduled run may start: two intervals, at least ten seconds.

    Runs are coalesced, so after downtime the latest missed tick, never more than one
    interval old, runs once; only a run delayed beyond this is recorded as ``missed``.
    """
    return max(math.ceil(2 * interval(settings, job)), 10)


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    """One run of a job, as the history keeps it."""

    id: str
    job: str
    trigger: str
    """``schedule`` (a tick), ``manual`` (``jobs run``), ``missed`` (ticks that never ran)
    or ``resume`` (an operator resumed the paused job)."""
    scheduled_for: dt.datetime | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    """One of :data:`syndicate.metrics.OUTCOMES`."""
    error: str | None
    summary: dict[str, Any]
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = dataclasses.asdict(self)
        for key in ("scheduled_for", "started_at", "finished_at"):
            if data[key] is not None:
                data[key] = rfc3339(data[key])
        return data


def _run(row: Any) -> Run:
    return Run(row.id, row.job, row.trigger, row.scheduled_for, row.started_at, row.finished_at,
               row.outcome, row.error, json.loads(row.summary) if row.summary else {}, row.host)


def history(engine: Engine, job: str | None = None, limit: int = 50, *,
            idle: bool = True) -> list[Run]:
    """Recent runs, newest first; without ``idle``, not those that found nothing to do."""
    query = sa.select(job_runs).order_by(job_runs.c.started_at.desc(), job_runs.c.id).limit(limit)
    if job is not None:
        query = query.where(job_runs.c.job == job)
    if not idle:
        query = query.where(sa.or_(job_runs.c.summary.is_(None),
                                   job_runs.c.summary.not_like('%"idle": true%')))
    with engine.connect() as conn:
        return [_run(row) for row in conn.execute(query)]


class JobRunner:
    """Runs jobs with the history and locking described in the module doc."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        metrics: JobMetrics | None = None,
        observed: Metrics | None = None,
        transport: TransportFactory | None = None,
        may_schedule: Callable[[], bool] | None = None,
        host: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.observed = observed
        """Where the jobs report feed build times and delivery outcomes, if anywhere."""
        self.transport = transport
        self.may_schedule = may_schedule
        self.host = host or process_name()
        self.stopping = threading.Event()
        self._stops: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._sampled: dt.datetime | None = None
        """The minute of this process's last queue sample (one a minute at most)."""

    def stop(self) -> None:
        """Ask running jobs to wrap up: ``deliver`` finishes what is in flight and gives
        back what it claimed but did not send."""
        self.stopping.set()
        with self._lock:
            for loop, event in self._stops:
                loop.call_soon_threadsafe(event.set)

    # -- the run protocol -------------------------------------------------------------------

    # Longer than 60 lines: the run protocol of the module doc, step by step, in one place.
    def run(self, job: str, *, trigger: str = "manual",
            scheduled_for: dt.datetime | None = None) -> Run:
        """Run ``job`` once (see the module doc); never raises for what the job does."""
        interval(self.settings, job)  # an unknown name is a JobError
        if trigger == "schedule" and self.may_schedule is not None and not self.may_schedule():
            # Recorded, so the tick is neither silent nor run later by another leader.
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self.record(job, trigger, scheduled_for, SKIPPED, "not the scheduler leader")
            return self._skipped(job, trigger, scheduled_for, "not the scheduler leader")
        run_id = "run_" + secrets.token_hex(8)
        started = self.clock()
        if trigger == "schedule" and scheduled_for is not None:
            self._count_missed(job, scheduled_for)
        if not self._begin(run_id, job, trigger, scheduled_for, started):
            log.debug("tick already run", extra={"job": job, "trigger": trigger})
            return self._skipped(job, trigger, scheduled_for, "tick already run")
        lock, ttl = f"job:{job}", self.settings.leader_lease
        if not leases.acquire(self.engine, lock, run_id, now=started, ttl=ttl):
            busy = f"another run of {job} is in progress"
            self._finish(run_id, SKIPPED, busy, {})
            log.info("run skipped", extra={"job": job, "run_id": run_id, "error": busy})
            self._tell(job, SKIPPED, 0.0)
            return self._get(run_id)
        self._interrupt_stale(job, run_id)
        log.debug("run started", extra={"job": job, "run_id": run_id, "trigger": trigger})
        began = time.monotonic()
        outcome, error, summary = OK, None, {}  # type: str, str | None, dict[str, Any]
        try:
            with leases.Heartbeat(self.engine, lock, run_id, ttl=ttl, clock=self.clock):
                summary = getattr(self, f"_job_{job}")(run_id)
        except Exception as exc:
            outcome, error = ERROR, f"{type(exc).__name__}: {exc}"[:2000]
            if isinstance(exc, ConfigError):  # a setting to fix, not a bug: no traceback
                log.error("run failed", extra={"job": job, "run_id": run_id, "error": error})
            else:
                log.error("run failed", exc_info=True, extra={"job": job, "run_id": run_id})
        finally:
            seconds = time.monotonic() - began
            if scheduled_for is not None:
                summary["late_seconds"] = round((started - scheduled_for).total_seconds(), 3)
            self._finish(run_id, outcome, error, summary)
            leases.release(self.engine, lock, run_id)
            self._prune(job)
        level = logging.DEBUG if summary.get("idle") and outcome == OK else logging.INFO
        log.log(level, "run finished", extra={
            "job": job, "run_id": run_id, "outcome": outcome, "seconds": round(seconds, 3),
            "summary": json.dumps(summary, default=str, sort_keys=True)})
        self._tell(job, outcome, seconds)
        return self._get(run_id)

    def _tell(self, job: str, outcome: str, seconds: float) -> None:
        if self.metrics is not None:
            try:
                self.metrics(job, outcome, seconds)
            except Exception:  # metrics never break a job
                log.exception("metrics callback failed", extra={"job": job})

    def _count_missed(self, job: str, scheduled_for: dt.datetime) -> None:
        """Ticks between the previous scheduled run and this one never ran: record them."""
        j = job_runs.c
        with self.engine.connect() as conn:
            previous = conn.execute(
                sa.select(sa.func.max(j.scheduled_for)).where(j.job == job)
                .where(j.trigger == "schedule").where(j.scheduled_for < scheduled_for)
            ).scalar()
            resumed = conn.execute(
                sa.select(sa.func.max(j.started_at)).where(j.job == job)
                .where(j.trigger == "resume")
            ).scalar()
        if previous is None or (resumed is not None and resumed > previous):
            return  # the first run, or the first after an operator's pause: nothing missed
        every = interval(self.settings, job)
        ticks = round((scheduled_for - previous).total_seconds() / every) - 1
        if ticks <= 0:
            return
        first = previous + dt.timedelta(seconds=every)
        new = self.record(job, MISSED, first, MISSED, f"{ticks} tick(s) from {rfc3339(first)} "
                          "did not run (no scheduler was running)", summary={"ticks": ticks})
        if new and self.observed is not None:
            self.observed.record_missed_ticks(job, ticks - 1)  # record() counted one

    def record(self, job: str, trigger: str, scheduled_for: dt.datetime | None,
               outcome: str, error: str, *, summary: dict[str, Any] | None = None) -> bool:
        """Record a run that did not happen (``missed``, or ``skipped`` by the scheduler);
        whether it was new (another process may have recorded that tick already)."""
        run_id = "run_" + secrets.token_hex(8)
        now = self.clock()
        if not self._begin(run_id, job, trigger, scheduled_for, now):
            return False
        self._finish(run_id, outcome, error, summary or {})
        self._prune(job)
        log.warning(f"run {outcome}", extra={"job": job, "run_id": run_id, "error": error})
        self._tell(job, outcome, 0.0)
        if outcome == MISSED and self.observed is not None:
            self.observed.record_missed_ticks(job, 1)
        return True

    def _skipped(self, job: str, trigger: str, scheduled_for: dt.datetime | None,
                 error: str) -> Run:
        now = self.clock()
        return Run("", job, trigger, scheduled_for, now, now, SKIPPED, error, {}, self.host)

    def _begin(self, run_id: str, job: str, trigger: str, scheduled_for: dt.datetime | None,
               started: dt.datetime) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(job_runs.insert().values(
                    id=run_id, job=job, trigger=trigger, scheduled_for=scheduled_for,
                    started_at=started, outcome=RUNNING, host=self.host,
                ))
        except sa.exc.IntegrityError:
            return False
        return True

    def _finish(self, run_id: str, outcome: str, error: str | None,
                summary: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(job_runs.update().where(job_runs.c.id == run_id).values(
                finished_at=self.clock(), outcome=outcome, error=error,
                summary=json.dumps(summary, default=str, sort_keys=True),
            ))

    def _get(self, run_id: str) -> Run:
        with self.engine.connect() as conn:
            return _run(conn.execute(sa.select(job_runs).where(job_runs.c.id == run_id)).one())

    def _interrupt_stale(self, job: str, run_id: str) -> None:
        """Runs still marked running while we hold the lock died with their process."""
        j = job_runs.c
        with self.engine.begin() as conn:
            conn.execute(job_runs.update().where(j.job == job).where(j.outcome == RUNNING)
                         .where(j.id != run_id)
                         .values(outcome="interrupted", error="the process running it stopped"))

    def _prune(self, job: str) -> None:
        j = job_runs.c
        keep = (sa.select(j.id).where(j.job == job).order_by(j.started_at.desc(), j.id.desc())
                .limit(self.settings.job_history))
        with self.engine.begin() as conn:
            ids = set(conn.execute(keep).scalars())
            conn.execute(job_runs.delete().where(j.job == job).where(j.id.not_in(ids)))

    # -- the jobs ---------------------------------------------------------------------------

    def _job_sync(self, run_id: str) -> dict[str, Any]:
        if not self.settings.content_dir.is_dir():
            # An empty corpus would withdraw every answer: refuse instead.
            raise ConfigError(
                f"setting content_dir: {self.settings.content_dir} is not a folder; point "
                "content_dir (SYNDICATE_CONTENT_DIR, --content) at the answers",
                name="content_dir")
        with self.engine.connect() as conn:
            before = last_sync_summary(conn)
        result = sync_and_publish(self.engine, self.settings, now=self.clock(),
                                  metrics=self.observed)
        for change in result.diff.changes:
            log.info("answer changed", extra={
                "job": "sync", "run_id": run_id, "change": change.type,
                "answer": change.answer_id, "language": change.language,
            })
        if result.deliveries >= ANALYZE_AFTER and self.engine.dialect.name == "postgresql":
            # A large fan-out makes the planner's row counts stale until autovacuum gets to
            # them (up to a minute), and claims would sort every due delivery meanwhile.
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE deliveries")
        counts = collections.Counter(change.type for change in result.diff.changes)
        # A skipped sync read nothing: the problems of the last sync still stand.
        content = ({key: before[key] for key in CONTENT_KEYS if key in before}
                   if result.skipped else _content_summary(run_id, result, before))
        return {"changes": dict(counts), "events": len(result.events),
                "deliveries": result.deliveries, **content,
                "inputs": result.fingerprint, "idle": not counts,
                "skipped": result.skipped,
                "rerendered": {"answers": result.rerendered_answers,
                               "languages": len(result.rerendered)}}

    def _job_deliver(self, run_id: str) -> dict[str, Any]:
        if self.stopping.is_set():
            return {"attempts": 0, "delivered": 0, "failed": 0, "idle": True}
        self._sample_queue()
        stats = asyncio.run(self._deliver())
        return {"attempts": stats.attempts, "delivered": stats.delivered,
                "failed": stats.failed, "idle": not stats.attempts}

    def _sample_queue(self) -> None:
        """Record the queue's depth for the console's chart, once a minute per process
        (the store keeps one row per minute whichever process writes it first)."""
        now = self.clock()
        minute = now.replace(second=0, microsecond=0)
        if self._sampled == minute:
            return
        self._sampled = minute
        record_queue_sample(self.engine, now=now)

    async def _deliver(self) -> Stats:
        settings = self.settings
        transport = self.transport() if self.transport is not None else \
            PinnedTransport.from_settings(settings)
        stop = asyncio.Event()
        key = (asyncio.get_running_loop(), stop)
        with self._lock:
            self._stops.add(key)
        if self.stopping.is_set():
            stop.set()
        worker = Worker(self.engine, settings, transport, clock=self.clock,
                        metrics=self.observed)
        try:
            return await worker.run(until_idle=True, stop=stop)
        finally:
            with self._lock:
                self._stops.discard(key)
            worker.close()
            await transport.aclose()

    def _job_report(self, run_id: str) -> dict[str, Any]:
        self._await_running_sync()
        report = collect(self.engine, now=self.clock(), jobs=JOBS,
                         source_language=self.settings.source_language)
        for item in report.overdue:
            log.warning("review overdue", extra={
                "job": "report", "run_id": run_id, "answer": item.answer_id,
                "language": item.language, "error": f"review was due {item.review_due}"})
        for item in report.stale:
            log.warning("stale translation", extra={
                "job": "report", "run_id": run_id, "answer": item.answer_id,
                "language": item.language,
                "error": f"shows the review of {item.reviewed}, source {item.source_reviewed}"})
        for sub in report.subscribers:
            log.warning("subscriber in trouble", extra={
                "job": "report", "run_id": run_id, "subscriber": sub.id, "state": sub.status,
                "error": sub.reason or f"failing since {sub.failing_since}"})
        for refused in report.refused:
            log.warning("translation refused", extra={
                "job": "report", "run_id": run_id, "answer": refused.answer_id,
                "language": refused.language, "error": "; ".join(refused.reasons)[:500]})
        data = report.as_dict()
        return {key: data[key] for key in ("languages", "overdue", "stale", "subscribers",
                                           "refused", "errors", "warnings", "attention")}

    def _await_running_sync(self, longest: float = 600.0) -> None:
        """Wait while a sync runs, at most ``longest`` seconds: the first report on a new
        database starts just after the first sync (see the scheduler) and must see what it
        published."""
        deadline = time.monotonic() + longest
        while not self.stopping.is_set() and time.monotonic() < deadline:
            held = leases.current(self.engine, "job:sync")
            if held is None or held.expires_at <= self.clock():
                return
            self.stopping.wait(0.2)


CONTENT_KEYS = ("problems", "problem_counts", "refused", "refused_counts", "problems_digest")
"""What :func:`_content_summary` keeps in a sync's summary."""


def _content_summary(run_id: str, result: SyncResult, before: dict[str, Any]) -> dict[str, Any]:
    """What a sync keeps of its content problems and refusals: the counts, the first
    :data:`KEPT` of each list (a new language with thousands of untranslated answers must
    not store megabytes at every tick) and a digest of the whole, to log changes once."""
    problems = {"errors": list(result.errors), "warnings": list(result.warnings)}
    digest = hashlib.sha256(json.dumps(
        [problems, [[i.language, i.answer_id, list(i.reasons)] for i in result.refused]],
        sort_keys=True).encode()).hexdigest()
    if digest != before.get("problems_digest"):
        _log_problem_changes(run_id, before.get("problems", {}), problems)
    refused: dict[str, list[dict[str, Any]]] = {}
    refused_counts: collections.Counter[str] = collections.Counter()
    for item in result.refused:
        refused_counts[item.language] += 1
        if refused_counts[item.language] <= KEPT:
            refused.setdefault(item.language, []).append(
                {"answer": item.answer_id, "reasons": [r[:200] for r in item.reasons[:3]]})
    return {"problems": {kind: items[:KEPT] for kind, items in problems.items()},
            "problem_counts": {kind: len(items) for kind, items in problems.items()},
            "refused": refused, "refused_counts": dict(refused_counts),
            "problems_digest": digest}


def _log_problem_changes(run_id: str, before: dict[str, Any], now: dict[str, list[str]]) -> None:
    """Log content problems that appeared since the last sync, and those that are gone."""
    for kind, level in (("errors", logging.ERROR), ("warnings", logging.WARNING)):
        old, new = set(before.get(kind, [])), now[kind]
        for problem in new:
            if problem not in old:
                log.log(level, f"content {kind[:-1]}: {problem}", extra={
                    "job": "sync", "run_id": run_id, "error": problem})
        for problem in sorted(old - set(new)):
            log.info(f"content {kind[:-1]} resolved: {problem}", extra={
                "job": "sync", "run_id": run_id, "error": problem})
