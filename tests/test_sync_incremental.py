"""The incremental sync gives what the full path gives: the same tree, byte for byte, and the
same events, after any sequence of edits; a sync with nothing changed does nothing; the sync
job tells how much it localized again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from syndicate import store
from syndicate.answers import catalog_path, load_corpus, localize_corpus
from syndicate.config import Settings
from syndicate.incremental import SYNC_RECORD
from syndicate.sync import CACHE, SyncResult, sync_and_publish
from syndicate.testing import (
    FIXED_NOW,
    LANGUAGES,
    answer_text,
    generate_corpus,
    translate_all,
    write_catalog,
)
from tests.support import set_front_matter

IGNORED = {SYNC_RECORD, ".syndicate-build.json"}
"""What only one of the two paths writes: the incremental path's own record."""


def _tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in IGNORED}


def _events(engine: sa.engine.Engine) -> list[tuple[object, ...]]:
    e, r = store.events.c, store.renditions.c
    with engine.connect() as conn:
        events = conn.execute(sa.select(e.id, e.type, e.answer_id, e.language, e.payload,
                                        e.full_payload, e.created_at).order_by(e.id)).all()
        stored = conn.execute(sa.select(r.answer_id, r.language, r.version, r.content_hash,
                                        r.rendition, r.withdrawn, r.first_published,
                                        r.updated).order_by(r.answer_id, r.language)).all()
    return [tuple(row) for row in events] + [tuple(row) for row in stored]


class Side:
    """One state folder, tree and store over the shared inputs."""

    def __init__(self, root: Path, content: Path, locales: Path, name: str) -> None:
        self.settings = Settings(content_dir=content, locales_dir=locales,
                                 out_dir=root / name / "public", state_dir=root / name / "state",
                                 base_url="https://feeds.example")
        self.settings.state_dir.mkdir(parents=True)
        self.engine = store.open_engine(self.settings.database)

    def sync(self, now: dt.datetime, incremental: bool) -> SyncResult:
        return sync_and_publish(self.engine, self.settings, now=now, incremental=incremental)


class IncrementalEqualsFull(RuleBasedStateMachine):
    """Random edits to a small corpus; after each, both paths sync and must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="syndicate-incremental-"))
        self.content, self.locales, targets = generate_corpus(
            self.root / "inputs", answers=4, languages=3, conditions=2, body_bytes=500)
        self.languages = len(targets) + 1
        self.added = 4
        self.now = FIXED_NOW
        self.incremental = Side(self.root, self.content, self.locales, "incremental")
        self.full = Side(self.root, self.content, self.locales, "full")
        self.last: tuple[SyncResult, SyncResult] | None = None
        self._sync()

    def teardown(self) -> None:
        self.incremental.engine.dispose()
        self.full.engine.dispose()
        shutil.rmtree(self.root, ignore_errors=True)

    def _files(self) -> list[Path]:
        return sorted(self.content.rglob("*.md"))

    def _sync(self) -> None:
        self.now += dt.timedelta(minutes=5)
        self.last = (self.incremental.sync(self.now, True), self.full.sync(self.now, False))

    @rule()
    def nothing(self) -> None:
        self._sync()
        assert self.last is not None and self.last[0].skipped

    @rule(pick=st.integers(0, 50), days=st.integers(1, 30))
    def re_review(self, pick: int, days: int) -> None:
        path = self._files()[pick % len(self._files())]
        reviewed = dt.date(2025, 6, 1) + dt.timedelta(days=days)
        set_front_matter(path, "reviewed", reviewed.isoformat())
        set_front_matter(path, "review_due", (reviewed + dt.timedelta(days=365)).isoformat())
        self._sync()

    @rule(pick=st.integers(0, 50))
    def edit_paragraph(self, pick: int) -> None:
        path = self._files()[pick % len(self._files())]
        text = path.read_text("utf-8")
        path.write_text(re.sub(r"^(## .*)$", r"\1 (edited)", text, count=1, flags=re.M),
                        "utf-8")
        self._sync()

    @rule(pick=st.integers(0, 50))
    def change_message(self, pick: int) -> None:
        found = sorted(self.locales.glob("*/LC_MESSAGES/syndicate.po"))
        path = found[pick % len(found)]
        text = path.read_text("utf-8")
        path.write_text(re.sub(r'^msgstr "\[', 'msgstr "(revised) [', text, count=1,
                               flags=re.M), "utf-8")
        self._sync()

    @rule()
    def add_answer(self) -> None:
        _, slug, text = answer_text(self.added, "Lupus", 500)
        self.added += 1
        (self.content / "lupus" / f"{slug}.md").write_text(text, "utf-8")
        self._sync()

    @rule(pick=st.integers(0, 50))
    def withdraw(self, pick: int) -> None:
        set_front_matter(self._files()[pick % len(self._files())], "status", "withdrawn")
        self._sync()

    @rule(pick=st.integers(0, 50))
    def break_answer(self, pick: int) -> None:
        set_front_matter(self._files()[pick % len(self._files())], "reviewed", "not a date")
        self._sync()

    @rule()
    def add_language(self) -> None:
        if self.languages >= 5:
            return
        language = LANGUAGES[self.languages - 1]
        self.languages += 1
        write_catalog(self.locales, language, translate_all(load_corpus(self.content), language))
        self._sync()

    @rule()
    def lose_the_cache(self) -> None:
        shutil.rmtree(self.incremental.settings.state_dir / CACHE, ignore_errors=True)
        self._sync()

    @invariant()
    def same_tree_and_events(self) -> None:
        assert self.last is not None
        inc, full = self.last
        assert inc.events == full.events
        assert inc.deliveries == full.deliveries
        if not inc.skipped:
            assert inc.diff == full.diff
        else:
            assert not full.diff.changes
        assert _tree(self.incremental.settings.out_dir) == _tree(self.full.settings.out_dir)
        assert _events(self.incremental.engine) == _events(self.full.engine)


    @invariant()
    def a_fresh_store_agrees_apart_from_history(self) -> None:
        """A sync into an empty store publishes the same content (record times aside); the
        incremental store holds more only where history counts: the last complete version
        of a translation that lags (stale or not), and answers whose file broke."""
        name = f"fresh-{self.now.timestamp():.0f}"
        fresh = Side(self.root, self.content, self.locales, name)
        try:
            fresh.sync(self.now, True)
            ours, theirs = _published(self.incremental.engine), _published(fresh.engine)
        finally:
            fresh.engine.dispose()
            shutil.rmtree(self.root / name, ignore_errors=True)
        for key, (content_hash, _) in theirs.items():
            assert ours.get(key, (None, None))[0] == content_hash, key
        loc = localize_corpus(self.incremental.settings)
        broken = {problem.path for problem in loc.corpus.errors}
        lagging = {(item.answer_id, item.language) for item in loc.incomplete}
        stale = _stale(self.incremental.engine)
        for key, (_, source_path) in ours.items() - theirs.items():
            assert key in stale or key in lagging or source_path in broken, key


def _published(engine: sa.engine.Engine) -> dict[tuple[str, str], tuple[str, str]]:
    r = store.renditions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.answer_id, r.language, r.content_hash, r.source_path)
                            .where(r.withdrawn.is_(False))).all()
    return {(row[0], row[1]): (row[2], row[3]) for row in rows}


def _stale(engine: sa.engine.Engine) -> set[tuple[str, str]]:
    r = store.renditions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.answer_id, r.language).where(r.stale.is_(True))).all()
    return {(row[0], row[1]) for row in rows}


IncrementalEqualsFull.TestCase.settings = settings(
    max_examples=6, stateful_step_count=6, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_incremental_sync_equals_the_full_path = IncrementalEqualsFull.TestCase


def test_a_sync_with_nothing_changed_does_nothing(tmp_path: Path) -> None:
    """Nothing localized, nothing written; a changed tree, store or cache is noticed."""
    content, locales, _ = generate_corpus(tmp_path, answers=3, languages=2, body_bytes=500)
    side = Side(tmp_path, content, locales, "side")
    out = side.settings.out_dir
    first = side.sync(FIXED_NOW, True)
    assert not first.skipped and first.rerendered == {"en": 3, "es": 3}
    before = _tree(out)
    again = side.sync(FIXED_NOW + dt.timedelta(minutes=5), True)
    assert again.skipped and again.rerendered == {} and not again.diff.changes
    assert _tree(out) == before
    # A published file removed from the tree: the sync runs and puts it back.
    victim = next(p for p in sorted(out.rglob("*.html")) if p.parent != out)
    victim.unlink()
    repaired = side.sync(FIXED_NOW + dt.timedelta(minutes=10), True)
    assert not repaired.skipped and repaired.rerendered == {}
    assert _tree(out) == before
    # The store changed behind the sync's back: it runs again.
    with side.engine.begin() as conn:
        conn.execute(store.renditions.delete().where(store.renditions.c.language == "es"))
    redone = side.sync(FIXED_NOW + dt.timedelta(minutes=15), True)
    assert not redone.skipped
    assert {c.type for c in redone.diff.changes} == {"answer.published"}
    # A file touched without a change: scanned again, still nothing to do.
    path = sorted(content.rglob("*.md"))[0]
    path.write_bytes(path.read_bytes())
    assert side.sync(FIXED_NOW + dt.timedelta(minutes=20), True).skipped


def test_the_sync_job_tells_what_it_localized_again(tmp_path: Path) -> None:
    from syndicate.service.jobs import JobRunner

    content, locales, _ = generate_corpus(tmp_path, answers=3, languages=3, body_bytes=500)
    side = Side(tmp_path, content, locales, "side")
    job_settings = dataclasses.replace(side.settings, sync_interval=3600)
    runner = JobRunner(side.engine, job_settings)
    first = runner.run("sync")
    assert first.outcome == "ok", first.error
    assert first.summary["rerendered"] == {"answers": 3, "languages": 3}
    assert first.summary["skipped"] is False
    assert runner.run("sync").summary["skipped"] is True
    path = sorted(content.rglob("*.md"))[1]
    set_front_matter(path, "experiences", "77")
    changed = runner.run("sync")
    assert changed.summary["rerendered"] == {"answers": 1, "languages": 3}
    assert changed.summary["changes"] == {"answer.updated": 3}
    es = catalog_path(locales, "es")
    es.write_text(re.sub(r'^msgstr "\[', 'msgstr "(revised) [', es.read_text("utf-8"), count=1,
                         flags=re.M), "utf-8")
    assert runner.run("sync").summary["rerendered"] == {"answers": 3, "languages": 1}


def test_a_file_replaced_with_its_time_preserved_is_still_seen(tmp_path: Path) -> None:
    """Same size, same modification time, other bytes (``cp -p``): the change time tells."""
    import os

    from syndicate.incremental import Inputs

    content, locales, _ = generate_corpus(tmp_path, answers=2, languages=1, body_bytes=500)
    settings = Settings(content_dir=content, locales_dir=locales, out_dir=tmp_path / "out",
                        state_dir=tmp_path / "state")
    path = sorted(content.rglob("*.md"))[0]
    before = path.stat()
    first = dataclasses.replace(Inputs.scan(settings), scanned_ns=before.st_mtime_ns + 10**10)
    text = path.read_text("utf-8")
    path.write_text(text.replace("Dr. Ana", "Dr. Ann", 1), "utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert Inputs.scan(settings, first).fingerprint != first.fingerprint
    # Untouched since, and long before the last scan: not hashed again, same fingerprint.
    again = Inputs.scan(settings)
    later = dataclasses.replace(again, scanned_ns=again.scanned_ns + 10**10)
    assert Inputs.scan(settings, later).fingerprint == again.fingerprint


def test_a_sync_pauses_the_cycle_collector_and_turns_it_back_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector is off while a sync runs (it would rescan the sync's objects again and
    again) and on again after, also when the sync fails; a collector someone else turned
    off stays off."""
    from syndicate import sync as sync_module

    content, locales, _ = generate_corpus(tmp_path, answers=2, languages=2, body_bytes=300)
    side = Side(tmp_path, content, locales, "side")
    seen: list[bool] = []
    real = sync_module.localize_corpus

    def watching(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sync_module, "localize_corpus", watching)
    assert gc.isenabled()
    side.sync(FIXED_NOW, True)
    assert seen == [False] and gc.isenabled()

    def broken(*args: object, **kwargs: object) -> object:
        raise OSError("disk gone")

    monkeypatch.setattr(sync_module, "localize_corpus", broken)
    (content / "lupus" / "fixture.md").write_text(
        (sorted(content.rglob("*.md"))[0]).read_text("utf-8"), "utf-8")
    with pytest.raises(OSError):
        side.sync(FIXED_NOW, True)
    assert gc.isenabled()
    gc.disable()
    try:
        monkeypatch.setattr(sync_module, "localize_corpus", watching)
        side.sync(FIXED_NOW, True)
        assert not gc.isenabled()
    finally:
        gc.enable()
