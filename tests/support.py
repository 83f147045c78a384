"""What the tests share: the project's folders, feed validators (RFC 4287 RELAX NG, the JSON
Feed schema, feedparser), workspaces and settings, a running HTTP service, and bounded
helpers for tests that run ``syndicate`` processes. Fixtures are in ``conftest.py``."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import feedparser
import httpx
import jsonschema
import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po, write_po
from lxml import etree

from syndicate import store
from syndicate.config import Settings, load_settings
from syndicate.http import create_app, tokens
from syndicate.metrics import Metrics
from syndicate.sync import sync_and_publish
from syndicate.testing import FixedClock, serve_asgi
from syndicate.testing import service_env as service_env  # the tests import it from here

ROOT = Path(__file__).resolve().parent.parent
"""The repository checkout (bundled content and catalogs)."""
FIXTURES = ROOT / "tests" / "fixtures"
FIXTURE = FIXTURES / "feeds"
GOLDEN = ROOT / "tests" / "golden" / "feeds"
ATOM_RNG = FIXTURES / "atom.rng"
"""RFC 4287's RELAX NG schema (compact syntax converted to XML), kept with the tests so a
fresh clone can validate feeds on its own."""
ANSWER_FILE = Path("lupus") / "what-causes-lupus.md"


# -- feeds, as readers read them --------------------------------------------------------------


@functools.cache
def atom_schema() -> etree.RelaxNG:
    """The RFC 4287 schema kept in ``tests/fixtures/atom.rng``."""
    if not ATOM_RNG.exists():
        pytest.fail(f"RFC 4287 schema missing: expected {ATOM_RNG} (tests/fixtures/)")
    return etree.RelaxNG(etree.parse(str(ATOM_RNG)))


@functools.cache
def json_feed_validator() -> jsonschema.Draft202012Validator:
    """A validator for the package's JSON Feed 1.1 schema, formats checked."""
    text = resources.files("syndicate").joinpath("schemas/jsonfeed-1.1.json").read_text("utf-8")
    schema = json.loads(text)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid_atom(data: bytes) -> None:
    schema = atom_schema()
    doc = etree.fromstring(data)
    assert schema.validate(doc), str(schema.error_log)


def assert_valid_json_feed(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    errors = [error.message for error in json_feed_validator().iter_errors(document)]
    assert not errors, errors
    return dict(document)


def parse_feed(data: bytes) -> Any:
    """feedparser's view of an Atom or RSS document; fails on any bozo."""
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def check_file(path: Path) -> None:
    """Validate one published feed file by its extension."""
    data = path.read_bytes()
    if path.suffix == ".atom":
        assert_valid_atom(data)
        parse_feed(data)
    elif path.suffix == ".rss":
        parse_feed(data)
    elif path.suffix == ".json" and path.name != "manifest.json":
        assert_valid_json_feed(data)


# -- workspaces and settings -----------------------------------------------------------------


def write_complete_catalog(locales_dir: Path, language: str, root: Path = ROOT) -> Path:
    """A catalog for ``language`` translating every message of the template as itself.

    Complete, not fuzzy and passing the checks: every answer gets a rendition in
    ``language`` (text identical to English, which is all these tests need).
    """
    with (root / "locales" / "syndicate.pot").open("rb") as handle:
        catalog = read_po(handle)
    catalog.locale = language.replace("-", "_")
    for message in catalog:
        if message.id:
            plural = isinstance(message.id, list | tuple)
            message.string = tuple(message.id) if plural else message.id
            message.flags.discard("fuzzy")
    path = locales_dir / language.replace("-", "_") / "LC_MESSAGES" / "syndicate.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog)
    return path


def set_front_matter(path: Path, key: str, value: str) -> None:
    """Change (or add) one front-matter field of an answer file."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for index, line in enumerate(lines[1:], start=1):
        if line.startswith(f"{key}:"):
            lines[index] = f"{key}: {value}"
            break
        if line == "---":
            lines.insert(index, f"{key}: {value}")
            break
    path.write_text("\n".join(lines), encoding="utf-8")


def hook_settings(workspace: Path, database_url: str, **overrides: object) -> Settings:
    """Settings over ``workspace`` with the given database, loopback webhooks allowed."""
    values: dict[str, object] = {
        "content_dir": workspace / "content",
        "locales_dir": workspace / "locales",
        "out_dir": workspace / "public",
        "state_dir": workspace / "state",
        "database_url": database_url,
        "webhook_allow_networks": ["127.0.0.0/8"],
        "base_url": "https://answers.example",
    }
    values.update(overrides)
    return load_settings(overrides=values)


# -- a running HTTP service ------------------------------------------------------------------


@dataclasses.dataclass
class Service:
    """A running HTTP service (``create_app`` on 127.0.0.1) and what it runs over."""

    url: str
    settings: Settings
    engine: sa.engine.Engine
    clock: FixedClock
    metrics: Metrics
    ready: list[bool]

    def token(self, partner: str) -> str:
        """A fresh API token for ``partner``."""
        return tokens.issue(self.engine, partner, now=self.clock())[1]

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client for the service, authenticated with ``token``."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def sync(self) -> None:
        """One sync run (localize, store, publish, queue)."""
        sync_and_publish(self.engine, self.settings, now=self.clock(), metrics=self.metrics)

    def counts(self) -> dict[str, int]:
        """Rows per table that requests could write."""
        with self.engine.connect() as conn:
            return {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in (store.subscribers, store.events, store.deliveries, store.api_tokens)
            }


def start_service(settings: Settings, **app_options: Any) -> Iterator[Service]:
    """Sync ``settings``' content once, then serve ``create_app`` until the caller is done."""
    engine = store.open_engine(settings.database)
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    metrics = Metrics()
    ready = [True]
    service_ = Service("", settings, engine, clock, metrics, ready)
    service_.sync()
    app = create_app(settings, engine, clock=clock, ready=lambda: ready[0], metrics=metrics,
                     **app_options)
    try:
        with serve_asgi(app) as url:
            service_.url = url
            yield service_
    finally:
        engine.dispose()


# -- syndicate processes ---------------------------------------------------------------------


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


def verification_queued(engine: sa.engine.Engine, subscriber_id: str) -> None:
    """Wait for the endpoint.verify the API queues once its creating response has been
    sent (it never races the response that carries the secret)."""
    from syndicate import store as store_tables

    wait_until(lambda: count(engine, store_tables.events,
                             store_tables.events.c.subscriber_id == subscriber_id) == 1, 10,
               "endpoint.verify queued")
