"""Help and listings read well: no reStructuredText markup or cut sentences in --help,
times in the listings, idle runs out of the way of the history."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import click
import sqlalchemy as sa
from click.testing import CliRunner

from syndicate.cli import cli
from syndicate.config import Settings
from syndicate.service import JobRunner, Run, leases
from syndicate.sync import sync_and_publish
from tests.support import hook_settings, service_env


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_help_shows_no_markup_and_cuts_no_description() -> None:
    for path in _commands(cli):
        result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, path
        assert "``" not in result.output, (path, result.output)
    top = CliRunner().invoke(cli, ["--help"], terminal_width=80).output
    assert "..." not in top.split("Commands:", 1)[1]


def test_history_hides_idle_runs_and_deliveries_show_times(
    workspace: Path, database_url: str
) -> None:
    env = {**os.environ, **service_env(workspace, database_url)}
    runner = CliRunner()
    assert runner.invoke(cli, ["jobs", "run", "sync"], env=env).exit_code == 0
    for _ in range(3):
        assert runner.invoke(cli, ["jobs", "run", "deliver"], env=env).exit_code == 0
    shown = runner.invoke(cli, ["jobs", "history"], env=env).output
    assert "summary" in shown.splitlines()[0]
    assert "deliver" not in shown and "sync" in shown
    everything = runner.invoke(cli, ["jobs", "history", "--all"], env=env).output
    assert everything.count("deliver ") == 3 and "idle" in everything
    listing = runner.invoke(cli, ["deliveries", "list"], env=env).output
    assert "created (UTC)" in listing.splitlines()[0]


def test_the_first_report_waits_for_a_running_sync(
    engine: sa.engine.Engine, workspace: Path, database_url: str
) -> None:
    """On a new database the report starts while the first sync runs: it waits for it, so
    it reports the languages that sync published."""
    settings: Settings = hook_settings(workspace, database_url)
    runner = JobRunner(engine, settings)
    assert leases.acquire(engine, "job:sync", "a-sync-elsewhere", now=runner.clock(), ttl=60)
    done: list[Run] = []
    thread = threading.Thread(target=lambda: done.append(runner.run("report")))
    thread.start()
    time.sleep(1.0)
    assert not done  # waiting for the sync
    sync_and_publish(engine, settings, now=runner.clock())  # what that sync does
    leases.release(engine, "job:sync", "a-sync-elsewhere")
    thread.join(10)
    assert done and done[0].outcome == "ok"
    assert {row["language"] for row in done[0].summary["languages"]} >= {"en", "de"}
