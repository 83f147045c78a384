"""Commands of the running service: ``run``, ``worker``, ``jobs ...`` and ``status``.

Registered on the ``syndicate`` group by :mod:`syndicate.cli.group`; thin like every
command: parse, call the library, print.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import Settings, listen_on
from ._common import (
    emit_json,
    open_store,
    require_content,
    require_writable,
    settings_options,
    stamp,
    table,
)

if TYPE_CHECKING:
    from ..service import Report


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
    from ..service import JobRunner, RunProcess, bind, configure_logs

    settings = listen_on(settings, host or None, port)
    require_content(settings)
    require_writable(settings.out_dir)
    sock = bind(settings)  # a port in use is refused before anything else happens
    configure_logs(settings.log_format, level=settings.log_level)
    engine = open_store(settings)

    def console(runner: JobRunner) -> Any:
        return create_console(settings, engine, run_job=runner.run, warm=True)

    RunProcess(settings, engine, announce=_announcer(settings), sock=sock,
               mounts={"/console": console}).run()


def _announcer(settings: Settings) -> Callable[[str], None]:
    """Where the one "serving on ..." line goes (stdout): as text for people, or in JSON
    mode as a JSON log object like every other line the process writes."""
    if settings.log_format != "json":
        return lambda line: click.echo(line)
    from ..service import log_json

    return lambda line: click.echo(log_json("syndicate.service", line))


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

    configure_logs(settings.log_format, level=settings.log_level)
    WorkerProcess(settings, open_store(settings), announce=_announcer(settings)).run()


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

    if name == "sync":
        require_content(settings)
        require_writable(settings.out_dir)
    configure_logs(settings.log_format, level=settings.log_level)
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
@click.option("--all", "show_idle", is_flag=True,
              help="Also the runs that found nothing to do (deliver every few seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def jobs_history(settings: Settings, job: str | None, limit: int, show_idle: bool,
                 as_json: bool) -> None:
    """Recent runs, newest first: start, end, outcome, what each did, error.

    Runs that found nothing to do are left out unless --all is given.

    \b
    Example:
      syndicate jobs history --job sync --limit 10
    """
    from ..service import history

    found = history(open_store(settings), job, limit, idle=show_idle)
    if as_json:
        emit_json([run.to_dict() for run in found])
        return
    rows = [[r.job, r.id, r.trigger, stamp(r.started_at), stamp(r.finished_at), r.outcome,
             _summary(r.summary)[:50], (r.error or "")[:60]] for r in found]
    click.echo(table(rows, ["job", "run", "trigger", "started (UTC)", "finished (UTC)",
                            "outcome", "summary", "error"]))


def _summary(summary: dict[str, object]) -> str:
    """What a run did, in a few words: its counts that are not zero."""
    parts = []
    for key, value in summary.items():
        if isinstance(value, dict) and key == "changes":
            parts += [f"{count} {kind}" for kind, count in value.items()]
        elif isinstance(value, int | float) and not isinstance(value, bool) and value and (
                key not in ("late_seconds",)):
            parts.append(f"{key} {value}")
        elif key == "late_seconds" and isinstance(value, int | float) and value >= 1:
            parts.append(f"{value:.0f} s late")
    return ", ".join(parts) or ("idle" if summary.get("idle") else "-")


@click.command()
@settings_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON (stable: see its \"format\" field).")
@click.option("--check", is_flag=True,
              help="Exit 1 when anything needs attention (for monitoring scripts).")
def status(settings: Settings, as_json: bool, check: bool) -> None:
    """Operators' report: what is published, refused, stale or overdue, and what needs
    attention.

    Per language: published, stale, overdue and refused answers and content errors; then
    the problems and refusals with their reasons, failing or disabled subscribers, the last
    run of each job.

    \b
    Example:
      syndicate status --check --json | jq '.attention'
    """
    from .._time import utc_now
    from ..service import JOBS, collect

    found = collect(open_store(settings), now=utc_now(), jobs=JOBS,
                    source_language=settings.source_language)
    if as_json:
        emit_json(found.as_dict())
    else:
        _print_status(found, settings.content_dir)
    if check and found.attention:
        sys.exit(1)


def _answer_name(answer_id: str, source_path: str, content_dir: Path) -> str:
    """``id (file)``: the one name of an answer, as ``i18n status`` and ``check`` print it."""
    if not source_path:
        return answer_id
    try:
        shown = Path(source_path).resolve().relative_to(content_dir.resolve()).as_posix()
    except ValueError:
        shown = source_path
    return f"{answer_id} ({shown})"


def _print_status(found: Report, content_dir: Path) -> None:
    click.echo(table([[r.language, str(r.publishable), str(r.stale), str(r.overdue),
                       str(r.refused), str(r.content_errors)] for r in found.languages],
                     ["language", "published", "stale", "past review_due", "refused",
                      "content errors"]))
    for title, items in (("stale translations", found.stale),
                         ("past review_due", found.overdue)):
        if items:
            click.echo(f"\n{title}:")
            click.echo(table([[i.language, _answer_name(i.answer_id, i.source_path, content_dir),
                               str(i.reviewed), str(i.source_reviewed),
                               str(i.review_due or "-"), i.title] for i in items],
                             ["language", "answer", "reviewed", "source reviewed", "review due",
                              "question"]))
    if found.refused:
        click.echo("\nrefused translations (the last good version, if any, stays published):")
        click.echo(table([[i.language, i.answer_id, "; ".join(i.reasons)[:100]]
                          for i in found.refused], ["language", "answer", "reason"]))
        total = sum(row.refused for row in found.languages)
        if total > len(found.refused):
            click.echo(f"(the first {len(found.refused)} of {total}; `syndicate i18n check` "
                       "lists every one)")
    for title, problems in (("content errors", found.errors),
                            ("content warnings", found.warnings)):
        if problems:
            click.echo(f"\n{title}:")
            for problem in problems:
                click.echo(f"  {problem}")
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
    click.echo("\nneeds attention: " + "; ".join(found.attention) if found.attention
               else "\nall is well")
