"""The translator view and ``syndicate i18n status`` read one cache of checked catalogs:
the same figures and to-do, whichever of the two reads a catalog first."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from click.testing import CliRunner, Result

from syndicate.answers import catalogs
from syndicate.cli import cli
from syndicate.console import data
from syndicate.console.cache import CACHE, in_worker
from tests.console.conftest import FUZZY_TRANSLATION, Console, serve, settled
from tests.console.test_security import sign_in


def _status(env: Console, *args: str) -> Result:
    s = env.settings
    return CliRunner().invoke(cli, [
        "i18n", "status", "--content", str(s.content_dir), "--locales", str(s.locales_dir),
        "--out", str(s.out_dir), *args], env={"SYNDICATE_STATE_DIR": str(s.state_dir)})


def _unread(*args: object, **kwargs: object) -> None:
    raise AssertionError("the catalog was read again")


def _forget() -> None:
    """A fresh console process: nothing in its memory, only what is on disk."""
    CACHE.clear()


def test_the_console_warms_i18n_status(console_env: Console,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's first read checks each catalog once and keeps its digest where
    ``i18n status`` looks: the command then reads no catalog and says the same."""
    _forget()
    found = data.translation_state(console_env.settings)
    cache = console_env.settings.state_dir / "i18n-cache"
    assert {p.name for p in cache.iterdir()} >= {"answers.json", "ar.json"}
    monkeypatch.setattr(catalogs, "read_strict", _unread)  # under every catalog read
    report = _status(console_env, "--json")
    assert report.exit_code == 0, report.output
    figures = {line["language"]: line for line in json.loads(report.output)["languages"]}
    for language, (progress, todo) in found.items():
        line = figures[language]
        assert (progress.publishable, progress.blocked, progress.fuzzy, progress.untranslated,
                progress.failing, progress.needs_review) == (
            line["publishable"], line["blocked"], line["fuzzy"], line["untranslated"],
            line["failing"], line["needs_review"]), language
        assert len(todo) == progress.fuzzy + progress.untranslated + progress.failing


def test_i18n_status_warms_the_console(console_env: Console,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """After a translator's ``i18n status``, the console's first read checks no catalog and
    lists the same to-do: file:line, reason, and the fuzzy message's translation."""
    po, line, msgid = console_env.fuzzy
    assert _status(console_env).exit_code == 0  # every language
    report = _status(console_env, "--todo", "ar")
    assert report.exit_code == 0, report.output
    _forget()
    monkeypatch.setattr(catalogs, "read_strict", _unread)  # under every catalog read
    progress, todo = data.translation_state(console_env.settings)["ar"]
    where = po.relative_to(console_env.settings.locales_dir.parent).as_posix()
    item = next(item for item in todo if item.source == msgid)
    assert item.location == f"{where}:{line}" and item.translation == FUZZY_TRANSLATION
    assert progress.fuzzy == 1
    listed = [text for text in report.output.splitlines() if text]
    assert len(listed) == len(todo)
    for text, item in zip(listed, todo, strict=True):
        assert text.split(": ")[0].endswith(item.location) and item.reason in text


def _unfuzzy(po: Path, msgid: str) -> None:
    """A translator clears the fuzzy flag of the planted message (saved with Babel)."""
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="ar")
    next(m for m in catalog if m.id == msgid).flags.discard("fuzzy")
    with po.open("wb") as handle:
        write_po(handle, catalog, width=0)


def test_a_saved_catalog_is_checked_again_in_the_background(
        console_env: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a translator saves a catalog, the translator's pages answer at once with the
    last figures, saying they are being updated and since when; the next load, once the
    catalog is checked, shows the new ones."""
    po, _line, msgid = console_env.fuzzy
    _forget()
    with serve(console_env) as client:
        sign_in(client, console_env.credential("tom", "translator"))
        first = settled(client, "/console/translate/ar")
        assert re.search(r"messages to do: [1-9]", first)
        figures = data.translation_snapshot(console_env.settings).value
        assert figures is not None and figures["ar"][0].fuzzy == 1

        checking, release = threading.Event(), threading.Event()
        real = data.language_state

        def slow(*args: object, **kwargs: object) -> object:
            checking.set()
            assert release.wait(30)
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(data, "language_state", slow)
        _unfuzzy(po, msgid)
        page = client.get("/console/translate/ar").text  # answered while the check waits
        assert checking.wait(30)
        assert "being checked again" in page and 'role="status"' in page
        assert re.search(r"These figures are from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)
        assert FUZZY_TRANSLATION in page  # the last figures, still listing the message
        home = client.get("/console/translate/").text
        assert "being checked again" in home and "1 fuzzy" in home
        release.set()
        CACHE.settle()
        after = client.get("/console/translate/ar").text
        assert "being checked again" not in after
        assert FUZZY_TRANSLATION not in after
        assert "0 fuzzy" in client.get("/console/translate/").text


def test_a_failed_update_keeps_the_last_figures(console_env: Console,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that fails in the background leaves the last figures on the page."""
    po, _line, msgid = console_env.fuzzy
    _forget()
    data.translation_snapshot(console_env.settings)
    CACHE.settle()
    before = data.translation_snapshot(console_env.settings)
    assert before.current and before.value is not None

    def broken(*args: object, **kwargs: object) -> object:
        raise OSError("disk gone")

    monkeypatch.setattr(data, "language_state", broken)
    _unfuzzy(po, msgid)
    stale = data.translation_snapshot(console_env.settings)
    CACHE.settle()
    again = data.translation_snapshot(console_env.settings)
    CACHE.settle()
    assert not stale.current and not again.current
    assert stale.value is before.value and again.value is before.value
    assert again.error == "disk gone"


def test_a_new_process_answers_before_its_first_figures(
        console_env: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    """A console process that has no figures yet does not make its first reader wait for
    every catalog: the page says they are being computed, and shows them once they are."""
    _forget()
    release = threading.Event()
    real = data.language_state

    def slow(*args: object, **kwargs: object) -> object:
        assert release.wait(30)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(data, "language_state", slow)
    with serve(console_env) as client:
        sign_in(client, console_env.credential("tom", "translator"))
        for path in ("/console/translate/", "/console/translate/ar"):
            page = client.get(path)
            assert page.status_code == 200
            assert "being computed, the first time since the service started" in page.text
            assert FUZZY_TRANSLATION not in page.text
        assert client.get("/console/translate/xx").status_code == 404
        release.set()
        assert FUZZY_TRANSLATION in settled(client, "/console/translate/ar")


def test_the_service_computes_the_figures_in_a_worker_process(
        console_env: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking catalogs holds the interpreter for seconds: the service does it in a worker
    process, never in a thread beside the pages it serves, and gets the same figures."""
    _forget()
    monkeypatch.setattr(CACHE, "runner", in_worker)
    data.translation_snapshot(console_env.settings)
    data.content_snapshot(console_env.settings)
    CACHE.settle()
    figures = data.translation_snapshot(console_env.settings)
    assert figures.current and figures.value is not None
    assert figures.value["ar"][0].fuzzy == 1
    assert data.content_snapshot(console_env.settings).current
    assert in_worker(os.getpid) != os.getpid()
