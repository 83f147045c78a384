"""Scheduled jobs: run history, per-job locks, ticks run once, pause/resume, missed runs,
the report and ``syndicate status``/``jobs`` commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from syndicate import store
from syndicate.cli import cli
from syndicate.config import Settings
from syndicate.metrics import Metrics
from syndicate.service import leases, schedule
from syndicate.service.jobs import JobRunner, history
from syndicate.testing import FixedClock
from tests.support import ANSWER_FILE, FIXTURES, hook_settings, set_front_matter


@pytest.fixture
def job_settings(workspace: Path, database_url: str) -> Settings:
    return hook_settings(workspace, database_url, sync_interval=3600, report_interval=3600,
                         deliver_interval=1, leader_lease=3, job_history=5)


def _runs(engine: sa.engine.Engine, job: str) -> list[sa.Row[tuple[str, str, dt.datetime]]]:
    c = store.job_runs.c
    with engine.connect() as conn:
        return list(conn.execute(sa.select(c.outcome, c.trigger, c.scheduled_for, c.started_at)
                                 .where(c.job == job).order_by(c.started_at)))


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_run_now_runs_once_and_is_recorded(engine: sa.engine.Engine, job_settings: Settings) -> None:
    """A manual run executes exactly once, records start, end and outcome, and tells the
    metrics callback."""
    told: list[tuple[str, str, float]] = []
    runner = JobRunner(engine, job_settings, metrics=lambda *args: told.append(args))
    run = runner.run("sync")
    assert run.outcome == "ok", run.error
    assert run.summary["changes"] == {"answer.published": 2}
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert [(r.job, r.trigger, r.outcome) for r in history(engine)] == [("sync", "manual", "ok")]
    assert [(job, outcome) for job, outcome, _ in told] == [("sync", "ok")]
    assert leases.current(engine, "job:sync") is None  # the lock is given back


def test_a_job_never_runs_twice_at_once(engine: sa.engine.Engine, job_settings: Settings) -> None:
    """max_instances=1 across processes: a run finding the job's lock taken is skipped."""
    now = dt.datetime.now(dt.UTC)
    assert leases.acquire(engine, "job:report", "elsewhere", now=now, ttl=60)
    run = JobRunner(engine, job_settings).run("report")
    assert (run.outcome, run.error) == ("skipped", "another run of report is in progress")


def test_a_tick_runs_at_most_once(engine: sa.engine.Engine, job_settings: Settings) -> None:
    """Two schedulers that both believe they lead cannot run the same tick twice."""
    tick = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    first = JobRunner(engine, job_settings).run("report", trigger="schedule", scheduled_for=tick)
    second = JobRunner(engine, job_settings).run("report", trigger="schedule", scheduled_for=tick)
    assert first.outcome == "ok"
    assert (second.outcome, second.error) == ("skipped", "tick already run")
    assert len(_runs(engine, "report")) == 1


def test_a_deposed_leader_does_not_run_its_ticks(
    engine: sa.engine.Engine, job_settings: Settings
) -> None:
    """A tick reaching a process that lost the lease is recorded as skipped, not run."""
    runner = JobRunner(engine, job_settings, may_schedule=lambda: False)
    assert runner.run("report", trigger="schedule").outcome == "skipped"
    assert [r.outcome for r in _runs(engine, "report")] == ["skipped"]
    assert history(engine, "report")[0].error == "not the scheduler leader"


def test_history_is_pruned_and_dead_runs_are_marked(
    engine: sa.engine.Engine, job_settings: Settings
) -> None:
    """Only the last job_history runs are kept; a run left 'running' by a dead process
    becomes 'interrupted' when the next run takes the lock."""
    runner = JobRunner(engine, job_settings)
    with engine.begin() as conn:
        conn.execute(store.job_runs.insert().values(
            id="run_dead", job="report", trigger="schedule", started_at=dt.datetime.now(dt.UTC),
            outcome="running"))
    runner.run("report")
    assert {r.id: r.outcome for r in history(engine, "report")}["run_dead"] == "interrupted"
    for _ in range(6):
        runner.run("report")
    assert len(history(engine, "report")) == job_settings.job_history


def test_a_failing_job_is_recorded_with_its_error(
    engine: sa.engine.Engine, job_settings: Settings, workspace: Path
) -> None:
    """A job that raises is an 'error' run with the message; the lock is given back."""
    (workspace / "not-a-folder").write_text("")
    broken = dataclasses.replace(job_settings, out_dir=workspace / "not-a-folder")
    told: list[tuple[str, str, float]] = []
    run = JobRunner(engine, broken, metrics=lambda *args: told.append(args)).run("sync")
    assert run.outcome == "error" and run.error
    assert [(job, outcome) for job, outcome, _ in told] == [("sync", "error")]
    assert leases.current(engine, "job:sync") is None


def test_missed_run_is_recorded_not_dropped(engine: sa.engine.Engine, job_settings: Settings) -> None:
    """A tick that starts later than its grace time is in the history as 'missed'."""
    runner = JobRunner(engine, job_settings)
    executor = schedule.TickExecutor(runner)
    late = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    job = SimpleNamespace(id="report", misfire_grace_time=10)
    events = executor._ticks(job, [late])
    assert [e.code for e in events] == [schedule.EVENT_JOB_MISSED]
    assert [(r.outcome, r.trigger) for r in history(engine, "report")] == [("missed", "missed")]


def test_scheduler_runs_jobs_and_pause_resume_persist(
    engine: sa.engine.Engine, job_settings: Settings
) -> None:
    """The job store keeps jobs across schedulers; pause stops a job, also after a
    restart; resume brings it back; run-now leaves the schedule untouched."""
    runner = JobRunner(engine, job_settings)
    first = schedule.Scheduler(engine, runner)
    first.start()
    try:
        _wait(lambda: len(_runs(engine, "deliver")) >= 2)
        jobs = {j.name: j for j in schedule.list_jobs(engine, job_settings)}
        assert jobs["deliver"].scheduled and jobs["deliver"].max_instances == 1
        assert jobs["deliver"].coalesce and jobs["deliver"].misfire_grace_time == 10
        schedule.pause(engine, "deliver")
        time.sleep(0.5)  # a tick picked up before the pause may still finish
        paused_count = len(_runs(engine, "deliver"))
        time.sleep(2.2)
        assert len(_runs(engine, "deliver")) == paused_count
    finally:
        first.stop()
    before = {j.name: j.next_run_time for j in schedule.list_jobs(engine, job_settings)}
    assert JobRunner(engine, job_settings).run("report").outcome == "ok"
    after = {j.name: j.next_run_time for j in schedule.list_jobs(engine, job_settings)}
    assert before == after  # run-now leaves the schedule unchanged
    second = schedule.Scheduler(engine, runner)
    second.start()
    try:
        time.sleep(1.5)
        assert len(_runs(engine, "deliver")) == paused_count  # still paused after a restart
        assert {j.name: j.paused for j in schedule.list_jobs(engine, job_settings)}["deliver"]
        schedule.resume(engine, "deliver", now=dt.datetime.now(dt.UTC))
        second.wakeup()
        _wait(lambda: len([r for r in _runs(engine, "deliver") if r.trigger == "schedule"])
              > paused_count)
    finally:
        second.stop()
    # The ticks skipped while paused were the operator's choice, not missed.
    assert "missed" not in {r.outcome for r in _runs(engine, "deliver")}
    assert [r.trigger for r in _runs(engine, "deliver")].count("resume") == 1


def test_a_job_store_written_before_the_stage_packages_keeps_working(
    engine: sa.engine.Engine, job_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """APScheduler pickled ``syndicate.schedule:scheduled_job`` into job stores written by
    Syndicate 0.1 (tests/fixtures/jobstore-0.1.json). Such a store still loads: its jobs
    run, and a job paused in it stays paused (a job that failed to load would be dropped
    and added again, unpaused)."""
    import base64
    import pickle

    data = json.loads((FIXTURES / "jobstore-0.1.json").read_text())
    rows = []
    for job in data["jobs"]:
        state = pickle.loads(base64.b64decode(job["job_state"]))
        assert state["func"] == "syndicate.schedule:scheduled_job"
        due = None if job["id"] == "report" else dt.datetime.now(dt.UTC)
        state["next_run_time"] = due
        rows.append({"id": job["id"], "next_run_time": due.timestamp() if due else None,
                     "job_state": pickle.dumps(state, pickle.HIGHEST_PROTOCOL)})
    with engine.begin() as conn:
        conn.execute(store.apscheduler_jobs.insert(), rows)
    scheduler = schedule.Scheduler(engine, JobRunner(engine, job_settings))
    scheduler.start()
    try:
        _wait(lambda: [r.outcome for r in _runs(engine, "sync")] == ["ok"])
        _wait(lambda: len(_runs(engine, "deliver")) >= 1)
        time.sleep(0.3)
    finally:
        scheduler.stop()
    jobs = {j.name: j for j in schedule.list_jobs(engine, job_settings)}
    assert jobs["report"].paused and not _runs(engine, "report")
    assert jobs["deliver"].interval == job_settings.deliver_interval  # the setting applied
    assert "Unable to restore job" not in caplog.text


def test_runs_missed_while_down_run_once_on_restart(
    engine: sa.engine.Engine, job_settings: Settings
) -> None:
    """Ticks missed while no scheduler ran are coalesced into one run at start, and counted
    in the history and the metrics."""
    metrics = Metrics()
    runner = JobRunner(engine, job_settings, metrics=metrics.record_job_run, observed=metrics)
    first = schedule.Scheduler(engine, runner)
    first.start()
    _wait(lambda: len(_runs(engine, "deliver")) >= 1)
    first.stop()
    stopped = dt.datetime.now(dt.UTC)
    time.sleep(3.5)  # three ticks of deliver missed
    restarted = dt.datetime.now(dt.UTC)
    second = schedule.Scheduler(engine, runner)
    second.start()
    resumed = dt.datetime.now(dt.UTC)  # ticks before this one were missed while down
    try:
        _wait(lambda: any(r.started_at >= restarted for r in _runs(engine, "deliver")))
        time.sleep(0.3)
    finally:
        second.stop()
    after = [r for r in _runs(engine, "deliver") if r.started_at >= restarted]
    # A tick can fall between the two clock readings around start(), so the catch-up run
    # is told apart by being due before the scheduler was running, not before the call.
    ran = [r for r in after if r.trigger == "schedule"]
    catch_up = [r for r in ran if r.scheduled_for < resumed]
    assert len(catch_up) == 1, after  # three or four missed ticks, one run
    interval = dt.timedelta(seconds=job_settings.deliver_interval)
    assert catch_up[0].scheduled_for > max(stopped, resumed - interval - interval), after
    assert len({r.scheduled_for for r in ran}) == len(ran)
    # The ticks skipped while down are counted, in one history row, not dropped silently.
    missed = [r for r in history(engine, "deliver") if r.outcome == "missed"]
    assert len(missed) == 1 and missed[0].trigger == "missed", after
    assert missed[0].summary["ticks"] >= 2 and "did not run" in (missed[0].error or "")
    assert missed[0].scheduled_for is not None and missed[0].scheduled_for > stopped - interval
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics.render().decode())
               for s in family.samples}
    assert samples[("syndicate_job_missed_ticks_total", (("job", "deliver"),))] == (
        missed[0].summary["ticks"])
    assert samples[("syndicate_job_runs_total", (("job", "deliver"), ("outcome", "missed")))] == 1


def test_jobs_commands(engine: sa.engine.Engine, job_settings: Settings, workspace: Path) -> None:
    """jobs list/run/pause/resume/history from the command line."""
    env = {"SYNDICATE_DATABASE_URL": job_settings.database,
           "SYNDICATE_CONTENT_DIR": str(workspace / "content"),
           "SYNDICATE_LOCALES_DIR": str(workspace / "locales"),
           "SYNDICATE_OUT_DIR": str(workspace / "public"), "SYNDICATE_LOG_FORMAT": "text"}
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    assert "not started yet" in invoke("jobs", "list")
    assert "not scheduled yet" in invoke("jobs", "pause", "sync", code=1)
    assert "no job named 'nope'" in invoke("jobs", "run", "nope", code=1)
    assert ": ok" in invoke("jobs", "run", "sync")
    scheduler = schedule.Scheduler(engine, JobRunner(engine, job_settings))
    scheduler.start()
    scheduler.stop()
    assert "report: paused" in invoke("jobs", "pause", "report")
    listed = json.loads(invoke("jobs", "list", "--json"))
    assert {j["name"]: j["paused"] for j in listed} == {
        "sync": False, "deliver": False, "report": True}
    assert "report: scheduled, next run" in invoke("jobs", "resume", "report")
    runs = json.loads(invoke("jobs", "history", "--json", "--job", "sync"))
    assert runs[0]["trigger"] == "manual" and runs[0]["outcome"] == "ok"
    assert "sync" in invoke("jobs", "history")


def test_report_and_status_show_overdue_stale_and_failing(
    engine: sa.engine.Engine, job_settings: Settings, workspace: Path
) -> None:
    """An answer past review_due and a failing subscriber show in the report job's summary
    and in ``syndicate status``."""
    set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2024-01-01")
    set_front_matter(workspace / "content" / ANSWER_FILE, "review_due", "2025-01-01")
    runner = JobRunner(engine, job_settings)
    assert runner.run("sync").outcome == "ok"
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(store.subscribers.insert().values(
            id="sub_failing", url="https://partner.example/hook", languages="[]",
            conditions="[]", event_types="[]", full=False, secret="whsec_c2VjcmV0",
            status="active", created_at=now, updated_at=now, failing_since=now))
    report = runner.run("report")
    assert [(i["language"], i["answer_id"]) for i in report.summary["overdue"]] == [
        ("de", "75da64d16c9fcccc"), ("en", "75da64d16c9fcccc")]
    assert report.summary["subscribers"][0]["id"] == "sub_failing"
    assert "whsec_" not in json.dumps(report.summary)
    env = {"SYNDICATE_DATABASE_URL": job_settings.database}
    result = CliRunner().invoke(cli, ["status", "--json"], env=env, catch_exceptions=False)
    data = json.loads(result.output)
    assert {r["language"]: r["overdue"] for r in data["languages"]} == {"de": 1, "en": 1}
    assert [j["job"] for j in data["jobs"]] == ["sync", "report"]
    text = CliRunner().invoke(cli, ["status"], env=env, catch_exceptions=False).output
    assert "past review_due" in text and "sub_failing" in text


def test_upgrade_from_the_first_schema_adds_the_job_tables(database_url: str) -> None:
    """`syndicate db upgrade` takes a 0001 database to the job store, run history and
    leases; then the service's pieces work on it."""
    raw = store.create_engine(database_url)
    try:
        store.upgrade(raw, "0001")
        assert "job_runs" not in sa.inspect(raw).get_table_names()
        store.upgrade(raw)
        tables = set(sa.inspect(raw).get_table_names())
        assert {"job_runs", "leases", "apscheduler_jobs"} <= tables
        assert store.current_revision(raw) == store.head_revision()
    finally:
        raw.dispose()


def test_deliver_samples_the_queue_once_a_minute(engine: sa.engine.Engine,
                                                 job_settings: Settings) -> None:
    """Each deliver run records the queue's depth for the console's chart, at most once a
    minute per process (a second run in the minute does not ask the database); another
    process in the same minute finds the minute's row there and leaves it."""
    clock = FixedClock(dt.datetime(2026, 11, 29, 7, 0, 1, tzinfo=dt.UTC))
    runner = JobRunner(engine, job_settings, clock=clock)
    other = JobRunner(engine, job_settings, clock=clock)
    day = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)

    def minutes() -> list[tuple[int, int, int]]:
        return [(s.minute.minute, s.pending, s.due)
                for s in store.queue_samples_since(engine, day)]

    assert runner.run("deliver").outcome == "ok"
    assert minutes() == [(0, 0, 0)]
    with engine.begin() as conn:
        conn.execute(sa.delete(store.queue_samples))
    clock.advance(20)
    assert runner.run("deliver").outcome == "ok"
    assert minutes() == []  # this process sampled the minute already
    assert other.run("deliver").outcome == "ok"
    assert other.run("deliver").outcome == "ok"
    assert minutes() == [(0, 0, 0)]
    clock.advance(60)
    assert runner.run("deliver").outcome == "ok"
    assert other.run("deliver").outcome == "ok"
    assert minutes() == [(0, 0, 0), (1, 0, 0)]
