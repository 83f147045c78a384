"""Logs: one JSON object per line with the context that matters, never a secret."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from syndicate import store
from syndicate.config import Settings
from syndicate.service import JobRunner, Scheduler, history, logs
from syndicate.service.process import RunProcess
from tests.support import Proc, hook_settings, service_env


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_context_and_mask_secrets(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("json", stream=stream)
    log = logging.getLogger("syndicate.test")
    log.info("answer changed", extra={"job": "sync", "run_id": "run_1", "answer": "a1",
                                      "language": "de", "unrelated": "dropped"})
    log.warning("delivery attempt failed", extra={"subscriber": "sub_1", "secret": "whsec_x",
                                                  "error": "HTTP 500"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "answer changed" and first["level"] == "info"
    assert (first["job"], first["run_id"], first["answer"], first["language"]) == (
        "sync", "run_1", "a1", "de")
    assert "unrelated" not in first and first["time"].endswith("Z")
    assert second["subscriber"] == "sub_1" and "whsec_x" not in lines[1]


def test_text_format_is_one_readable_line(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("text", stream=stream)
    logging.getLogger("syndicate.test").info("run finished",
                                             extra={"job": "report", "outcome": "ok"})
    line = stream.getvalue().strip()
    assert "syndicate.test: run finished job=report outcome=ok" in line


def test_readiness_reports_the_database_and_the_role(
    engine: sa.engine.Engine, settings: Settings
) -> None:
    service = RunProcess(settings, engine, announce=lambda line: None)
    assert service.readiness() == {"ready": True, "database": True, "schema": True,
                                   "scheduler": "standby"}
    with engine.begin() as conn:  # a database another release migrated further
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    assert service.readiness()["ready"] is False
    assert service.readiness()["schema"] is False


def test_commands_log_json_only_without_migration_chatter(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    """Commands in JSON mode: every line of the log (stderr) is JSON; Alembic speaks only
    when a migration runs; an idle deliver logs nothing at info, and at debug when asked."""
    env = service_env(workspace, database_url)

    def run(*args: str, **extra: str) -> list[dict[str, object]]:
        done = subprocess.run([sys.executable, "-m", "syndicate", *args],
                              env={**env, **extra}, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stderr.splitlines()]  # each line is JSON

    first = run("jobs", "run", "sync")  # creates the schema: migrations speak
    assert any(str(e.get("message", "")).startswith("Running upgrade") for e in first)
    for records in (run("jobs", "run", "sync"), run("jobs", "list")):
        assert not [e for e in records if e.get("logger") == "alembic.runtime.migration"]
    idle = run("jobs", "run", "deliver")
    assert not [e for e in idle if e.get("logger") == "syndicate.jobs"], idle
    loud = run("jobs", "run", "deliver", SYNDICATE_LOG_LEVEL="debug")
    finished = [e for e in loud if e.get("message") == "run finished"]
    assert finished and finished[0]["level"] == "debug"
    assert '"idle": true' in str(finished[0]["summary"])


def test_run_announces_in_json_and_base_url_follows_the_port(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    """`syndicate run` with another port and no base_url: the announcement is a JSON line,
    the links of the published tree point at that port, and the first sync runs at start."""
    env = {key: value for key, value in service_env(workspace, database_url).items()
           if key != "SYNDICATE_BASE_URL"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.update({"SYNDICATE_PORT": str(port), "SYNDICATE_OUT_DIR": str(tmp_path / "public")})
    proc = Proc(["run"], env, tmp_path, "run")
    try:
        announced = json.loads(proc.wait_for_output("serving").splitlines()[0])
        assert announced["message"].startswith("syndicate: serving")
        deadline = time.monotonic() + 30
        while not (tmp_path / "public" / "en" / "feed.atom").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        feed = (tmp_path / "public" / "en" / "feed.atom").read_text(encoding="utf-8")
        assert f"http://127.0.0.1:{port}/en/feed.atom" in feed
        assert ":8080" not in feed
        assert proc.terminate() == 0
    finally:
        proc.kill()


def test_a_sync_runs_at_start_when_inputs_changed(
    workspace: Path, database_url: str
) -> None:
    """After a restart, the sync waits for its interval only if nothing changed since the
    last one; changed content brings it forward to now."""
    settings = hook_settings(workspace, database_url, sync_interval=3600)
    engine = store.open_engine(database_url)
    try:
        runner = JobRunner(engine, settings)
        scheduler = Scheduler(engine, runner)
        assert scheduler.sync_due()  # never synced
        assert runner.run("sync").outcome == "ok"
        assert not scheduler.sync_due()
        answer = next((workspace / "content").rglob("*.md"))
        answer.write_text(answer.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        assert scheduler.sync_due()
        changed = hook_settings(workspace, database_url, sync_interval=3600, feed_size=7)
        assert runner.run("sync").outcome == "ok"
        assert Scheduler(engine, JobRunner(engine, changed)).sync_due()  # a setting changed

        def syncs() -> int:
            return len([r for r in history(engine, "sync") if r.outcome == "ok"])

        scheduler.start()  # nothing changed since the last sync: it waits for its tick
        time.sleep(1.5)
        scheduler.stop()
        before = syncs()
        restarted = Scheduler(engine, JobRunner(engine, changed))
        restarted.start()  # the schedule is persisted an hour ahead; the setting changed
        try:
            deadline = time.monotonic() + 20
            while syncs() == before:
                assert time.monotonic() < deadline, "no sync at start"
                time.sleep(0.1)
        finally:
            restarted.stop()
    finally:
        engine.dispose()
