"""APScheduler 3 wiring: the persistent job store, the executor, pause and resume.

Only the scheduler leader (see :mod:`syndicate.service.leases`) runs a :class:`Scheduler`; a job
store is never shared by two running schedulers. Jobs live in ``apscheduler_jobs`` in the
state database, each an interval trigger anchored at :data:`ANCHOR` (so every process and
every restart agrees on the ticks), with ``coalesce=True``, ``max_instances=1`` and an
explicit ``misfire_grace_time`` (:func:`syndicate.service.jobs.misfire_grace`). Ticks missed while
no leader ran are coalesced into one run at start; a run that still starts too late is
recorded as ``missed`` in the run history, never dropped silently.

The executor does not call the stored function: it hands each tick to
:meth:`syndicate.service.jobs.JobRunner.run` with its scheduled time, which the run history uses to
run a tick at most once. ``pause``/``resume`` write the job store directly (from any
process); the running scheduler re-reads the store at least every renewal of its lease, and
its own bookkeeping never overwrites a pause made meanwhile (:class:`GuardedJobStore`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import pickle
import secrets
from typing import Any

import sqlalchemy as sa
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..config import Settings
from ..errors import JobError
from ..incremental import sync_inputs
from ..metrics import ERROR, MISSED, OK, SKIPPED
from ..store import apscheduler_jobs, job_runs
from .jobs import JOBS, JobRunner, interval, misfire_grace

ANCHOR = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""Every interval trigger counts its ticks from here."""
FIRST_REPORT_DELAY = 2.0
"""Seconds after the first sync that the first report on a new database starts."""

log = logging.getLogger("syndicate.schedule")


def scheduled_job(name: str) -> None:
    """The job store's reference for every job; runs go through :class:`TickExecutor`."""
    raise JobError("scheduled jobs are run by the Syndicate scheduler's executor", job=name)


def trigger(seconds: float) -> IntervalTrigger:
    """An interval trigger with ticks at ``ANCHOR + k * seconds``."""
    return IntervalTrigger(seconds=seconds, start_date=ANCHOR, timezone=dt.UTC)


class GuardedJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """The SQLAlchemy job store, except that an update never un-pauses a job.

    ``jobs pause`` in another process sets ``next_run_time`` to NULL; the scheduler's
    rescheduling of a run it had already picked up must not undo it.
    """

    def update_job(self, job: Any) -> None:
        from apscheduler.util import datetime_to_utc_timestamp

        t = self.jobs_t
        query = t.update().where(t.c.id == job.id).values(
            next_run_time=datetime_to_utc_timestamp(job.next_run_time),
            job_state=pickle.dumps(job.__getstate__(), self.pickle_protocol),
        )
        if job.next_run_time is not None:
            query = query.where(t.c.next_run_time.is_not(None))
        with self.engine.begin() as connection:
            connection.execute(query)


class TickExecutor(ThreadPoolExecutor):  # type: ignore[misc]
    """Runs each tick through the :class:`JobRunner`, with its scheduled time."""

    def __init__(self, runner: JobRunner, max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self.runner = runner

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        def done(future: Any) -> None:
            error = future.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(self._ticks, job, list(run_times)).add_done_callback(done)

    def _ticks(self, job: Any, run_times: list[dt.datetime]) -> list[JobExecutionEvent]:
        events = []
        for run_time in run_times:
            late = (dt.datetime.now(dt.UTC) - run_time).total_seconds()
            if job.misfire_grace_time is not None and late > job.misfire_grace_time:
                self.runner.record(job.id, MISSED, run_time, MISSED,
                                   f"started {late:.1f} s late, past its grace time")
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, "default", run_time))
                continue
            run = self.runner.run(job.id, trigger="schedule", scheduled_for=run_time)
            code = EVENT_JOB_ERROR if run.outcome == ERROR else EVENT_JOB_EXECUTED
            events.append(JobExecutionEvent(code, job.id, "default", run_time, retval=run.id))
        return events


class Scheduler:
    """The leader's APScheduler: built on election, shut down on deposition or exit."""

    def __init__(self, engine: Engine, runner: JobRunner, *, max_workers: int = 4) -> None:
        self.engine = engine
        self.runner = runner
        self.max_workers = max_workers
        self._scheduler: BackgroundScheduler | None = None

    @property
    def running(self) -> bool:
        """Whether this process is scheduling jobs now."""
        return self._scheduler is not None and bool(self._scheduler.running)

    def start(self) -> None:
        """Start scheduling; add missing jobs (first run now) and apply changed intervals."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(
            jobstores={"default": GuardedJobStore(engine=self.engine)},
            executors={"default": TickExecutor(self.runner, self.max_workers)},
            timezone=dt.UTC,
        )
        scheduler.add_listener(self._max_instances, EVENT_JOB_MAX_INSTANCES)
        scheduler.start(paused=True)
        try:
            self._ensure_jobs(scheduler)
        except Exception:
            scheduler.shutdown(wait=False)
            raise
        scheduler.resume()
        self._scheduler = scheduler
        log.info("scheduler started")

    def _ensure_jobs(self, scheduler: BackgroundScheduler) -> None:
        settings, now = self.runner.settings, self.runner.clock()
        for name in JOBS:
            seconds, grace = interval(settings, name), misfire_grace(settings, name)
            existing = scheduler.get_job(name)
            if existing is None:
                # The first report starts after the first sync has begun (it waits for it).
                first = now + dt.timedelta(seconds=FIRST_REPORT_DELAY if name == "report" else 0)
                scheduler.add_job(
                    scheduled_job, trigger(seconds), args=(name,), id=name, name=name,
                    misfire_grace_time=grace, coalesce=True, max_instances=1, next_run_time=first,
                )
            elif name == "sync" and self.sync_due():
                scheduler.modify_job(name, next_run_time=now)
                log.info("inputs changed since the last sync: syncing now", extra={"job": name})
            if existing is not None and (existing.trigger.interval.total_seconds() != seconds
                                         or existing.misfire_grace_time != grace):
                scheduler.modify_job(name, trigger=trigger(seconds), misfire_grace_time=grace,
                                     coalesce=True, max_instances=1)

    def sync_due(self) -> bool:
        """Whether content, catalogs, settings or code changed since the last sync that
        finished ok (or none did): then the sync runs at start, not an interval later."""
        j = job_runs.c
        with self.engine.connect() as conn:
            raw = conn.execute(
                sa.select(j.summary).where(j.job == "sync").where(j.outcome == OK)
                .order_by(j.finished_at.desc(), j.id.desc()).limit(1)).scalar()
        recorded = json.loads(raw).get("inputs") if raw else None
        return bool(recorded != sync_inputs(self.runner.settings).fingerprint)

    def stop(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, until running jobs are done."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=wait)
            log.info("scheduler stopped")

    def wakeup(self) -> None:
        """Look at the job store again (another process may have resumed a job)."""
        if self._scheduler is not None:
            self._scheduler.wakeup()

    def _max_instances(self, event: Any) -> None:
        times = event.scheduled_run_times or [None]
        self.runner.record(event.job_id, "schedule", times[-1], SKIPPED,
                           "previous run still in progress")


# -- the job store seen from any process (CLI) ----------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class JobInfo:
    """One job as the job store and the run history describe it."""

    name: str
    interval: float
    next_run_time: dt.datetime | None
    paused: bool
    scheduled: bool
    """Whether the job is in the job store (a leader has started once)."""
    misfire_grace_time: float | None
    coalesce: bool
    max_instances: int
    last_outcome: str | None
    last_started: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = dataclasses.asdict(self)
        for key in ("next_run_time", "last_started"):
            if data[key] is not None:
                data[key] = rfc3339(data[key])
        return data


def _states(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(apscheduler_jobs.c.id, apscheduler_jobs.c.job_state))
        return {row.id: pickle.loads(row.job_state) for row in rows}


def list_jobs(engine: Engine, settings: Settings) -> list[JobInfo]:
    """Every job: schedule, next run, paused or not, last run."""
    states = _states(engine)
    j = job_runs.c
    with engine.connect() as conn:
        last = {
            row.job: (row.outcome, row.started_at)
            for row in conn.execute(
                sa.select(j.job, j.outcome, j.started_at).order_by(j.started_at))
        }
    found = []
    for name in JOBS:
        state = states.get(name)
        outcome, started = last.get(name, (None, None))
        if state is None:
            found.append(JobInfo(name, interval(settings, name), None, False, False,
                                 misfire_grace(settings, name), True, 1, outcome, started))
            continue
        nxt = state["next_run_time"]
        found.append(JobInfo(
            name, state["trigger"].interval.total_seconds(),
            nxt.astimezone(dt.UTC) if nxt else None, nxt is None, True,
            state["misfire_grace_time"], state["coalesce"], state["max_instances"], outcome,
            started,
        ))
    return found


def _write(engine: Engine, name: str, change: Any) -> dt.datetime | None:
    t = apscheduler_jobs
    with engine.begin() as conn:
        query = sa.select(t.c.job_state).where(t.c.id == name)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        raw = conn.execute(query).scalar()
        if raw is None:
            if name not in JOBS:
                raise JobError(f"no job named {name!r} (jobs: {', '.join(JOBS)})", job=name)
            raise JobError(f"job {name} is not scheduled yet: start `syndicate run` once",
                           job=name)
        state = pickle.loads(raw)
        state["next_run_time"] = change(state)
        nxt = state["next_run_time"]
        conn.execute(t.update().where(t.c.id == name).values(
            next_run_time=nxt.timestamp() if nxt else None,
            job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL),
        ))
    return nxt  # type: ignore[no-any-return]


def pause(engine: Engine, name: str) -> None:
    """Stop scheduling ``name`` until :func:`resume` (persisted in the job store)."""
    _write(engine, name, lambda state: None)


def resume(engine: Engine, name: str, *, now: dt.datetime) -> dt.datetime | None:
    """Schedule ``name`` again from its next tick after ``now``; that tick."""
    def next_tick(state: dict[str, Any]) -> Any:
        current = state["next_run_time"]
        return current or state["trigger"].get_next_fire_time(None, now)

    nxt = _write(engine, name, next_tick)
    # Recorded, so the ticks skipped while paused are not counted as missed.
    with engine.begin() as conn:
        conn.execute(job_runs.insert().values(
            id="run_" + secrets.token_hex(8), job=name, trigger="resume", scheduled_for=None,
            started_at=now, finished_at=now, outcome=SKIPPED,
            error="paused by an operator until now", summary="{}"))
    return nxt
