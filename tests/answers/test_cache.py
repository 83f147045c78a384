"""The localization cache: reused results are exactly what localizing afresh gives, and a
cache that cannot be trusted is rebuilt, never used."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syndicate.answers import Answer, Block, _cache, catalog_cache, checks, load_corpus
from syndicate.answers.catalog_cache import CACHE_FOLDER
from syndicate.answers.catalogs import catalog_path, read_catalog
from syndicate.answers.pipeline import Localization, localize_corpus
from syndicate.answers.status import status_reports
from syndicate.config import Settings
from syndicate.testing import generate_corpus
from tests.cli.test_i18n import add_dose_answer, project

__all__ = ["project"]


def _settings(root: Path) -> Settings:
    content, locales, _ = generate_corpus(root, answers=12, languages=4, body_bytes=1200)
    return Settings(content_dir=content, locales_dir=locales, out_dir=root / "public",
                    state_dir=root / "state", languages=("es", "fr", "de"))


def _summary(loc: Localization) -> tuple[object, ...]:
    return (loc.languages, loc.renditions, loc.incomplete,
            [str(e) for e in loc.catalog_errors], loc.removed,
            {lang: (c.entries, c.revised, c.path) for lang, c in loc.catalogs.items()})


def _rerendered(loc: Localization) -> dict[str, int]:
    return {lang: len(ids) for lang, ids in loc.rerendered.items() if ids}


@pytest.mark.parametrize("workers", [1, 2])
def test_cached_localization_equals_a_fresh_one_after_each_edit(
    tmp_path: Path, workers: int
) -> None:
    settings = _settings(tmp_path)
    cache = tmp_path / "state" / "cache"

    def both() -> Localization:
        cached = localize_corpus(settings, workers=workers, cache_dir=cache)
        assert _summary(cached) == _summary(localize_corpus(settings, workers=1))
        return cached

    assert _rerendered(both()) == {"en": 12, "es": 12, "fr": 12, "de": 12}
    assert _rerendered(both()) == {}
    # One answer re-reviewed: that answer again, in every language.
    path = sorted(settings.content_dir.rglob("*.md"))[3]
    path.write_text(re.sub(r"reviewed: \S+", "reviewed: 2024-06-01", path.read_text("utf-8"),
                           count=1), "utf-8")
    assert _rerendered(both()) == {"en": 1, "es": 1, "fr": 1, "de": 1}
    # One catalog message changed: that language again, every answer (the catalog's digest).
    fr = catalog_path(settings.locales_dir, "fr")
    fr.write_text(fr.read_text("utf-8").replace("[fr] ", "[fr]  ", 1), "utf-8")
    assert _rerendered(both()) == {"fr": 12}
    # An edited paragraph that no catalog translates yet: refused in every target language.
    text = path.read_text("utf-8")
    path.write_text(text.replace("Researchers", "Scientists", 1) if "Researchers" in text
                    else text.replace("Treatment", "Care", 1), "utf-8")
    edited = both()
    assert _rerendered(edited) == {"en": 1, "es": 1, "fr": 1, "de": 1}
    assert {i.language for i in edited.incomplete} == {"es", "fr", "de"}


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "version", "key"])
def test_a_cache_that_cannot_be_trusted_is_rebuilt(
    tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    cache = tmp_path / "state" / "cache"
    expected = _summary(localize_corpus(settings, workers=1, cache_dir=cache))
    kept = sorted(cache.glob("*.pickle"))
    assert {p.name for p in kept} >= {"answers.pickle", "catalog-es.pickle"}
    assert [p for p in kept if p.name.startswith("renditions-es-")]
    for path in kept:
        raw = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(raw[: len(raw) // 2])
        elif damage == "flip":
            path.write_bytes(raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:])
        elif damage == "garbage":
            path.write_bytes(b"not a cache at all")
    if damage == "version":
        monkeypatch.setattr(_cache, "code_version", lambda: "other code")
    if damage == "key":
        settings = dataclasses.replace(settings, publisher="Another Publisher")
        expected = _summary(localize_corpus(settings, workers=1))
    again = localize_corpus(settings, workers=1, cache_dir=cache)
    assert _summary(again) == expected
    assert _rerendered(again) == {"en": 12, "es": 12, "fr": 12, "de": 12}
    # ... and rewritten: the next run reuses it.
    assert _rerendered(localize_corpus(settings, workers=1, cache_dir=cache)) == {}


def test_the_answer_digest_covers_every_field() -> None:
    """The digest is over the dataclass ``repr``: every field of an answer and its blocks
    must be in it, or a change to that field would reuse a stale rendition."""
    for cls in (Answer, Block):
        hidden = [f.name for f in dataclasses.fields(cls) if not f.repr]
        assert hidden == [], f"{cls.__name__} fields left out of the digest: {hidden}"


def test_parsed_answers_are_reused_only_for_the_same_bytes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    cache = _cache.LocalizationCache(tmp_path / "state" / "cache")
    files = sorted(settings.content_dir.rglob("*.md"))
    fresh = load_corpus(settings.content_dir)
    assert load_corpus(settings.content_dir, parse=cache.parse_files) == fresh
    files[0].write_text(files[0].read_text("utf-8").replace("reviewed: ", "reviewed: x", 1),
                        "utf-8")
    broken = load_corpus(settings.content_dir)
    assert broken.errors
    assert load_corpus(settings.content_dir, parse=cache.parse_files) == broken
    assert load_corpus(settings.content_dir, parse=cache.parse_files) == broken


def test_one_changed_answer_rewrites_one_shard_per_language(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    cache = tmp_path / "state" / "cache"
    localize_corpus(settings, workers=1, cache_dir=cache)
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("renditions-*.pickle")}
    path = sorted(settings.content_dir.rglob("*.md"))[5]
    path.write_text(path.read_text("utf-8").replace("experiences: ", "experiences: 1", 1),
                    "utf-8")
    localize_corpus(settings, workers=1, cache_dir=cache)
    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("renditions-*.pickle")}
    assert after.keys() == before.keys()
    rewritten = sorted(name.rsplit("-", 1)[0] for name in after if after[name] != before[name])
    assert rewritten == ["renditions-de", "renditions-en", "renditions-es", "renditions-fr"]


def test_the_code_version_covers_every_module_localization_loads() -> None:
    """The cache is kept across changes to code that cannot shape localization (the
    webhooks, the publication, the console): every module of the package that importing
    the stage loads must be among the files the code version hashes, or a change to it
    would reuse renditions it made differently."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, syndicate.answers, syndicate.answers._cache; "
         "print('\\n'.join(m.__file__ or '' for n, m in sorted(sys.modules.items()) "
         "if n == 'syndicate' or n.startswith('syndicate.')))"],
        check=True, capture_output=True, text=True).stdout.split()
    covered = {path.resolve() for pattern in _cache.CODE
               for path in _cache.PACKAGE_DIR.glob(pattern)}
    assert loaded
    assert [path for path in loaded if Path(path).resolve() not in covered] == []
    assert not any(path.name == "sync.py" for path in covered)


@pytest.mark.parametrize("workers", [1, 2])
def test_each_catalog_is_read_once_and_shared_with_i18n_status(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold cache reads and checks each catalog once (in the worker when pooled), and
    leaves what ``i18n status`` needs: its status is then made without reading a catalog,
    and is the one it would have made itself."""
    settings = _settings(tmp_path)
    fresh_status = status_reports(settings.content_dir, settings.locales_dir, ["es", "fr", "de"],
                                  tmp_path / "elsewhere")
    reads: list[str] = []
    real = _cache.read_catalog

    def counted(path: Path, language: str, **kwargs: Any) -> Any:
        reads.append(language)
        return real(path, language, **kwargs)
    if workers == 1:
        monkeypatch.setattr(_cache, "read_catalog", counted)
    cached = localize_corpus(settings, workers=workers, cache_dir=tmp_path / "state" / "cache")
    assert _summary(cached) == _summary(localize_corpus(settings, workers=1))
    if workers == 1:
        assert sorted(reads) == ["de", "es", "fr"]
    shared = tmp_path / "state" / CACHE_FOLDER
    assert {p.name for p in shared.iterdir()} >= {"es.json", "es.checks.json", "de.json"}

    def unread(*args: object, **kwargs: object) -> None:
        raise AssertionError("the catalog was read again")
    monkeypatch.setattr(catalog_cache, "read_catalog", unread)
    assert status_reports(settings.content_dir, settings.locales_dir, ["es", "fr", "de"],
                          shared) == fresh_status


def test_published_catalogs_keep_only_what_publication_looks_up(tmp_path: Path) -> None:
    """Once localized, the answers' own messages are dropped from the catalogs a
    localization keeps; the interface strings stay, whichever path made them."""
    settings = _settings(tmp_path)
    ids = {answer.id for answer in load_corpus(settings.content_dir).published}
    full = read_catalog(catalog_path(settings.locales_dir, "es"), "es")
    for loc in (localize_corpus(settings, workers=1), localize_corpus(settings, workers=2),
                localize_corpus(settings, workers=2, cache_dir=tmp_path / "state" / "cache")):
        kept = loc.catalogs["es"].entries
        assert dict(kept) == {key: entry for key, entry in full.entries.items()
                              if key[0] not in ids}
        assert any(key[0] is None for key in kept)


def test_the_review_setting_reaches_cached_localization(project: Path) -> None:
    """``require_translation_review`` shapes what may be published: a cached localization
    honours it like a fresh one, and results made under one value are not reused under the
    other."""
    add_dose_answer(project)
    settings = Settings(content_dir=project / "content", locales_dir=project / "locales",
                        out_dir=project / "public", state_dir=project / "state")
    cache = project / "state" / "cache"
    found = {}
    for require in (True, False, True):
        changed = dataclasses.replace(settings, require_translation_review=require)
        found[require] = _summary(localize_corpus(changed, workers=1, cache_dir=cache))
        assert found[require] == _summary(localize_corpus(changed, workers=1))
    assert found[True] != found[False]  # the unreviewed dose is published only without


def test_kept_findings_are_reused_only_by_the_same_checking_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog read again reuses the checks' findings of its unchanged messages only if
    the checks' code, their libraries and Python are the ones that found them."""
    settings = _settings(tmp_path)
    cache = tmp_path / "state" / "cache"
    localize_corpus(settings, workers=1, cache_dir=cache)
    es = catalog_path(settings.locales_dir, "es")
    checked: list[object] = []
    real = checks.check_message

    def counted(*args: Any, **kwargs: Any) -> list[str]:
        checked.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(checks, "check_message", counted)
    es.write_text(es.read_text("utf-8").replace("[es] ", "[es]  ", 1), "utf-8")
    localize_corpus(settings, workers=1, cache_dir=cache)
    assert len(checked) == 1  # the one message changed
    checked.clear()
    es.write_text(es.read_text("utf-8").replace("[es]  ", "[es] ", 1), "utf-8")
    version = catalog_cache.metadata.version
    monkeypatch.setattr(catalog_cache.metadata, "version", lambda name: (
        "0.0-other" if name == "babel" else version(name)))
    catalog_cache.code_key.cache_clear()
    try:
        again = localize_corpus(settings, workers=1, cache_dir=cache)
    finally:
        monkeypatch.undo()
        catalog_cache.code_key.cache_clear()
    assert len(checked) > 100  # every message checked again
    assert _summary(again) == _summary(localize_corpus(settings, workers=1))
