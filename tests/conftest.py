"""Shared fixtures: settings over temporary folders, databases (SQLite and PostgreSQL), a
running service. Helpers that are not fixtures are in ``tests/support.py``."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from syndicate import store
from syndicate.config import Settings, load_settings
from tests.support import (
    FIXTURE,
    ROOT,
    Service,
    hook_settings,
    start_service,
    write_complete_catalog,
)


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


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the bundled content with complete English and German (fixture) catalogs."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    (tmp_path / "locales").mkdir()
    shutil.copy(ROOT / "locales" / "syndicate.pot", tmp_path / "locales" / "syndicate.pot")
    write_complete_catalog(tmp_path / "locales", "de")
    return tmp_path


@pytest.fixture
def service(workspace: Path, database_url: str) -> Iterator[Service]:
    """The service over a synced copy of the bundled content (SQLite, then PostgreSQL)."""
    yield from start_service(hook_settings(workspace, database_url, api_rate_burst=1000))
