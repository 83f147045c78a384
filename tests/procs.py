"""Helpers for tests that run ``syndicate`` processes: start, wait, stop, always bounded."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from syndicate import store


def service_env(workspace: Path, database_url: str, **extra: object) -> dict[str, str]:
    """The environment of a ``syndicate`` process over ``workspace`` and a database."""
    env = {
        **os.environ,
        "SYNDICATE_DATABASE_URL": database_url,
        "SYNDICATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "SYNDICATE_BASE_URL": "https://answers.example",
        "SYNDICATE_CONTENT_DIR": str(workspace / "content"),
        "SYNDICATE_LOCALES_DIR": str(workspace / "locales"),
        "SYNDICATE_OUT_DIR": str(workspace / "public"),
        "SYNDICATE_STATE_DIR": str(workspace / "state"),
        "SYNDICATE_LOG_FORMAT": "json",
        "SYNDICATE_PORT": "0",
    }
    env.update({f"SYNDICATE_{key.upper()}": str(value) for key, value in extra.items()})
    return env


class Proc:
    """A ``syndicate`` subprocess whose stdout and stderr go to files."""

    def __init__(self, args: list[str], env: dict[str, str], logs: Path, name: str) -> None:
        self.out = logs / f"{name}.out"
        self.err = logs / f"{name}.err"
        with self.out.open("w") as stdout, self.err.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syndicate", *args], env=env, stdout=stdout,
                stderr=stderr,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def holder(self) -> str:
        """The ``host:pid`` this process writes in leases and attempts."""
        import socket

        return f"{socket.gethostname()}:{self.pid}"

    def wait_for_output(self, text: str, timeout: float = 20) -> str:
        """Wait until stdout contains ``text``; the stdout so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self.out.read_text()
            if text in output:
                return output
            if self.process.poll() is not None:
                raise AssertionError(f"exited {self.process.returncode}: {self.err.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not printed in time: {self.err.read_text()[-2000:]}")

    def url(self) -> str:
        """The base URL a ``syndicate run`` printed."""
        line = self.wait_for_output("http://")
        return "http://" + line.split("http://", 1)[1].split("/", 1)[0]

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait (bounded); the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            self.process.kill()
            self.process.wait(5)
            message = f"did not stop in {timeout} s: {self.err.read_text()[-2000:]}"
            raise AssertionError(message) from exc

    def kill(self) -> None:
        """kill -9."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@contextlib.contextmanager
def processes() -> Iterator[list[Proc]]:
    """Collect processes started in the block; every one is killed at the end."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.kill()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "") -> float:
    """Poll ``predicate`` until true (bounded); seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def count(engine: sa.engine.Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    """Rows of ``table`` matching ``where``."""
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        for condition in where:
            query = query.where(condition)
        return int(conn.execute(query).scalar_one())


def delivered(engine: sa.engine.Engine) -> int:
    """Deliveries in state delivered."""
    return count(engine, store.deliveries, store.deliveries.c.state == "delivered")
