"""Commands of the running service: ``run``, ``worker``, ``jobs ...`` and ``status``.

Registered on the ``syndicate`` group by :mod:`syndicate.cli.group`; thin like every
command: parse, call the library, print.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import click

from ..config import Settings
from ._common import emit_json, open_store, settings_options, stamp, table


@click.command()
@settings_options
@click.option("--host", help="Address to listen on [default: setting host, 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [default: setting port, 8080].")
def run(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the service: HTTP server, scheduled jobs and delivery, until stopped.

    Serves the publication tree, the API and the web console (/console), and runs the
    sync, deliver and report jobs while this process is the scheduler leader (one leader
    among every `syndicate run` sharing the database; the others stand by). The first
    sync runs at start on a new database. SIGTERM or Ctrl-C stops gracefully.

    \b
    Example:
      syndicate run --host 0.0.0.0 --port 8080
    """
    from ..console import create_console
    from ..service import JobRunner, RunProcess, configure_logs

    settings = dataclasses.replace(settings, host=host or settings.host,
                                   port=settings.port if port is None else port)
    configure_logs(settings.log_format)
    engine = open_store(settings)

    def console(runner: JobRunner) -> Any:
        return create_console(settings, engine, run_job=runner.run, warm=True)

    RunProcess(settings, engine, announce=lambda line: click.echo(line),
               mounts={"/console": console}).run()


@click.command()
@settings_options
def worker(settings: Settings) -> None:
    """Deliver webhooks continuously (no HTTP, no scheduler); run as many as needed.

    Several workers share the due deliveries (PostgreSQL: FOR UPDATE SKIP LOCKED with a
    lease); a worker killed with -9 leaves its claims to expire and be retried by the
    others with the same webhook-id. SIGTERM or Ctrl-C stops gracefully.

    \b
    Example:
      SYNDICATE_DATABASE_URL=postgresql+psycopg://syndicate@db/syndicate syndicate worker
    """
    from ..service import WorkerProcess, configure_logs

    configure_logs(settings.log_format)
    WorkerProcess(settings, open_store(settings), announce=lambda line: click.echo(line)).run()


@click.group()
def jobs() -> None:
    """Scheduled jobs: list, run now, pause, resume, history.

    \b
    Example:
      syndicate jobs list && syndicate jobs history --job sync
    """


@jobs.command("list")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def jobs_list(settings: Settings, as_json: bool) -> None:
    """List the jobs: interval, next run, paused or not, last outcome.

    \b
    Example:
      syndicate jobs list --json
    """
    from ..service import list_jobs

    found = list_jobs(open_store(settings), settings)
    if as_json:
        emit_json([job.to_dict() for job in found])
        return
    rows = [[j.name, f"{j.interval:g}s", "paused" if j.paused else (
        "scheduled" if j.scheduled else "not started yet"), stamp(j.next_run_time),
        j.last_outcome or "-", stamp(j.last_started)] for j in found]
    click.echo(table(rows, ["job", "every", "state", "next run (UTC)", "last outcome",
                            "last started (UTC)"]))


@jobs.command("run")
@settings_options
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def jobs_run(settings: Settings, name: str, as_json: bool) -> None:
    """Run a job once, now, in this process; the schedule is left as it is.

    Holds the job's lock like a scheduled run does, so it never overlaps another run of
    the same job anywhere (it exits 1 if one is in progress). The run is in the history.

    \b
    Example:
      syndicate jobs run sync
    """
    from ..service import JobRunner, configure_logs

    configure_logs(settings.log_format)
    found = JobRunner(open_store(settings), settings).run(name, trigger="manual")
    if as_json:
        emit_json(found.to_dict())
    else:
        click.echo(f"{found.job} {found.id}: {found.outcome}"
                   + (f": {found.error}" if found.error else ""))
    if found.outcome != "ok":
        sys.exit(1)


@jobs.command("pause")
@settings_options
@click.argument("name")
def jobs_pause(settings: Settings, name: str) -> None:
    """Stop scheduling a job until resumed (kept in the job store across restarts).

    \b
    Example:
      syndicate jobs pause report
    """
    from ..service import pause

    pause(open_store(settings), name)
    click.echo(f"{name}: paused")


@jobs.command("resume")
@settings_options
@click.argument("name")
def jobs_resume(settings: Settings, name: str) -> None:
    """Schedule a paused job again from its next tick.

    \b
    Example:
      syndicate jobs resume report
    """
    from .._time import utc_now
    from ..service import resume

    nxt = resume(open_store(settings), name, now=utc_now())
    click.echo(f"{name}: scheduled, next run {stamp(nxt)} UTC")


@jobs.command("history")
@settings_options
@click.option("--job", "job", help="Only this job.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def jobs_history(settings: Settings, job: str | None, limit: int, as_json: bool) -> None:
    """Recent runs, newest first: start, end, outcome, error.

    \b
    Example:
      syndicate jobs history --job sync --limit 10
    """
    from ..service import history

    found = history(open_store(settings), job, limit)
    if as_json:
        emit_json([run.to_dict() for run in found])
        return
    rows = [[r.job, r.id, r.trigger, stamp(r.started_at), stamp(r.finished_at), r.outcome,
             (r.error or "")[:60]] for r in found]
    click.echo(table(rows, ["job", "run", "trigger", "started (UTC)", "finished (UTC)",
                            "outcome", "error"]))


@click.command()
@settings_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(settings: Settings, as_json: bool) -> None:
    """Operators' report: per language published, stale and overdue answers; failing or
    disabled subscribers; the last run of each job.

    \b
    Example:
      syndicate status --json | jq '.overdue[] | .answer_id'
    """
    from .._time import utc_now
    from ..service import JOBS, collect

    found = collect(open_store(settings), now=utc_now(), jobs=JOBS)
    if as_json:
        emit_json(found.as_dict())
        return
    click.echo(table([[r.language, str(r.publishable), str(r.stale), str(r.overdue)]
                      for r in found.languages],
                     ["language", "published", "stale", "past review_due"]))
    for title, items in (("stale translations", found.stale),
                         ("past review_due", found.overdue)):
        if items:
            click.echo(f"\n{title}:")
            click.echo(table([[i.language, i.answer_id, str(i.reviewed), str(i.source_reviewed),
                               str(i.review_due or "-"), i.title] for i in items],
                             ["language", "answer", "reviewed", "source reviewed", "review due",
                              "question"]))
    click.echo("\nsubscribers failing or disabled:" if found.subscribers
               else "\nno subscriber failing or disabled")
    if found.subscribers:
        click.echo(table([[s.id, s.status, stamp(s.failing_since), s.reason or "", s.url]
                          for s in found.subscribers],
                         ["subscriber", "status", "failing since", "reason", "url"]))
    click.echo("\nlast runs:")
    click.echo(table([[j.job, j.outcome, stamp(j.started_at), stamp(j.finished_at),
                       (j.error or "")[:60]] for j in found.jobs],
                     ["job", "outcome", "started (UTC)", "finished (UTC)", "error"]))
