"""The console over a synced copy of the bundled content: English, German and an Arabic
catalog with one planted fuzzy message."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po, write_po

from syndicate import store
from syndicate.config import Settings
from syndicate.console import create_console, create_credential
from syndicate.console.cache import CACHE, here
from syndicate.http import RateLimiter, create_app
from syndicate.http import tokens as api_tokens
from syndicate.sync import sync_and_publish
from syndicate.testing.receiver import FixedClock
from syndicate.testing.services import serve_asgi
from tests.support import hook_settings, write_complete_catalog

FUZZY_TRANSLATION = "ما الذي يسبب الذئبة؟ (ترجمة تجريبية غير مراجعة)"
"""A fixture translation, marked fuzzy: never published, listed in the translator's to-do."""


def plant_fuzzy(locales: Path) -> tuple[Path, int, str]:
    """A complete Arabic catalog whose first answer message is fuzzy; its path, the line of
    that message's ``msgid`` and the message."""
    path = write_complete_catalog(locales, "ar")
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="ar")
    message = next(m for m in catalog if m.id and any("content/" in loc[0]
                                                         for loc in m.locations))
    message.string = FUZZY_TRANSLATION
    message.flags.add("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0)
    text = path.read_text(encoding="utf-8").splitlines()
    quoted = '"' + str(message.id).replace("\\", "\\\\").replace('"', '\\"') + '"'
    line = next(i for i, row in enumerate(text, start=1)
                if row.startswith("msgid ") and row[6:] == quoted)
    return path, line, str(message.id)


@dataclasses.dataclass
class Console:
    """A console app over a synced store, and ways in."""

    settings: Settings
    engine: sa.engine.Engine
    clock: FixedClock
    fuzzy: tuple[Path, int, str]

    def token(self, partner: str) -> str:
        return api_tokens.issue(self.engine, partner, now=self.clock())[1]

    def credential(self, name: str, role: str) -> str:
        return create_credential(self.engine, name, role, now=self.clock())[1]


@pytest.fixture
def console_env(workspace: Path, database_url: str) -> Iterator[Console]:
    """Settings, a synced store and the planted fuzzy message (SQLite, then PostgreSQL)."""
    fuzzy = plant_fuzzy(workspace / "locales")
    settings = hook_settings(workspace, database_url)
    engine = store.open_engine(settings.database)
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    sync_and_publish(engine, settings, now=clock())
    try:
        yield Console(settings, engine, clock, fuzzy)
    finally:
        engine.dispose()


def console_app(env: Console, **options: object) -> object:
    """The whole HTTP app with the console mounted, as ``syndicate run`` serves it."""
    options.setdefault("limiter", RateLimiter(1000, 1000))
    app = create_console(env.settings, env.engine, clock=env.clock, **options)  # type: ignore[arg-type]
    return create_app(env.settings, env.engine, clock=env.clock, mounts=[("/console", app)])


@contextlib.contextmanager
def serve(env: Console, **options: object) -> Iterator[httpx.Client]:
    """The console app on a loopback port, and a client of it (no redirects followed)."""
    with serve_asgi(console_app(env, **options)) as url, httpx.Client(
            base_url=url, follow_redirects=False, timeout=30) as found:
        yield found


@pytest.fixture
def client(console_env: Console) -> Iterator[httpx.Client]:
    """A client of the console app on a loopback port."""
    with serve(console_env) as found:
        yield found


UPDATING = "Reload the page in a few seconds"
"""What a page says while its figures are computed in the background."""


def settled(client: httpx.Client, path: str, timeout: float = 60.0) -> str:
    """The page at ``path`` once its figures are up to date (reloaded as a person would)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text[:300]
        if UPDATING not in response.text:
            return response.text
        assert time.monotonic() < deadline, f"{path} still updating after {timeout} s"
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _figures_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's figures computed in a thread of the test process, where a test can
    hold or break them (the service computes them in a worker process: see
    test_translation_cache)."""
    monkeypatch.setattr(CACHE, "runner", here)
