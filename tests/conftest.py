"""Shared fixtures: settings over temporary folders, and the project's own folders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po, write_po

from syndicate import store
from syndicate.config import Settings, load_settings
from syndicate.http import tokens
from syndicate.http.api import create_app
from syndicate.metrics import Metrics
from syndicate.sync import sync_and_publish
from syndicate.testing import FixedClock, serve_asgi

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_root() -> Path:
    """The repository checkout (bundled content and catalogs)."""
    return ROOT


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over the bundled content and catalogs, writing under ``tmp_path``."""
    return load_settings(
        overrides={
            "content_dir": ROOT / "content",
            "locales_dir": ROOT / "locales",
            "out_dir": tmp_path / "public",
            "state_dir": tmp_path / "state",
        }
    )


FIXTURE = ROOT / "tests" / "fixtures" / "feeds"
GOLDEN = ROOT / "tests" / "golden" / "feeds"


ATOM_RNG = ROOT / "tests" / "fixtures" / "atom.rng"
"""RFC 4287's RELAX NG schema (compact syntax converted to XML), kept with the tests so a
fresh clone can validate feeds on its own."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/ from the current output instead of comparing with it.",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    """Whether golden files are to be rewritten (``pytest --regen-golden``)."""
    return bool(request.config.getoption("--regen-golden"))


@pytest.fixture
def feed_fixture(tmp_path: Path) -> Path:
    """A writable copy of the feeds fixture corpus (English answers, Arabic catalog)."""
    import shutil

    target = tmp_path / "corpus"
    shutil.copytree(FIXTURE / "content", target / "content")
    shutil.copytree(FIXTURE / "locales", target / "locales")
    return target


@pytest.fixture
def feed_settings(feed_fixture: Path, tmp_path: Path) -> Settings:
    """Settings over the copied fixture corpus: small feeds so archives appear."""
    return load_settings(
        overrides={
            "content_dir": feed_fixture / "content",
            "locales_dir": feed_fixture / "locales",
            "out_dir": tmp_path / "public",
            "state_dir": tmp_path / "state",
            "base_url": "https://feeds.example.org",
            "feed_size": 2,
        }
    )
# == Webhooks: state databases (SQLite and PostgreSQL), fixture catalogs ====================


def _postgres_or_skip() -> str:
    """The PostgreSQL server for tests; fails instead of skipping when it is required."""
    url = os.environ.get("SYNDICATE_TEST_POSTGRES_URL", "")
    required = os.environ.get("SYNDICATE_REQUIRE_POSTGRES") == "1"
    problem = "" if url else "SYNDICATE_TEST_POSTGRES_URL is not set"
    if url:
        try:
            engine = sa.create_engine(url)
            with engine.connect():
                pass
            engine.dispose()
        except sa.exc.SQLAlchemyError as exc:
            problem = f"PostgreSQL at {url} is not reachable: {exc.__class__.__name__}"
    if problem:
        if required:
            pytest.fail(f"{problem} (SYNDICATE_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema, dropped afterwards."""
    base = _postgres_or_skip()
    schema = f"syndicate_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty state database: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'syndicate.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.engine.Engine]:
    """The state store at the current schema."""
    found = store.open_engine(database_url)
    yield found
    found.dispose()


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


ANSWER_FILE = Path("lupus") / "what-causes-lupus.md"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the bundled content with complete English and German (fixture) catalogs."""
    import shutil

    shutil.copytree(ROOT / "content", tmp_path / "content")
    (tmp_path / "locales").mkdir()
    shutil.copy(ROOT / "locales" / "syndicate.pot", tmp_path / "locales" / "syndicate.pot")
    write_complete_catalog(tmp_path / "locales", "de")
    return tmp_path


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
# == API: a running service over a synced workspace ==========================================


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


@pytest.fixture
def service(workspace: Path, database_url: str) -> Iterator[Service]:
    """The service over a synced copy of the bundled content (SQLite, then PostgreSQL)."""
    yield from start_service(hook_settings(workspace, database_url, api_rate_burst=1000))
