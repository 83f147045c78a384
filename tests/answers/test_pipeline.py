"""Localizing a corpus: the worker pool gives exactly what the serial path gives."""

from __future__ import annotations

import pickle
from pathlib import Path

from syndicate.answers.catalogs import catalog_path, read_catalog
from syndicate.answers.pipeline import Localization, default_workers, localize_corpus
from syndicate.config import Settings
from syndicate.errors import CatalogError
from syndicate.testing import generate_corpus


def _settings(root: Path) -> Settings:
    content, locales, _ = generate_corpus(root, answers=12, languages=4, body_bytes=1200)
    return Settings(content_dir=content, locales_dir=locales, out_dir=root / "public",
                    state_dir=root / "state", languages=("es", "fr", "de", "it"))


def _summary(loc: Localization) -> tuple[object, ...]:
    return (
        loc.languages,
        loc.renditions,
        loc.incomplete,
        [(str(e), e.language, e.path, e.line) for e in loc.catalog_errors],
        loc.removed,
        {lang: (c.entries, c.plural_count, c.revised, c.locale, c.path)
         for lang, c in loc.catalogs.items()},
    )


def test_pool_and_serial_paths_give_identical_localizations(tmp_path: Path) -> None:
    """Renditions, refusals, catalog errors and catalogs are the same, in the same order."""
    settings = _settings(tmp_path)
    # One language with a fuzzy entry (incomplete renditions), one whose catalog is broken.
    es = catalog_path(settings.locales_dir, "es")
    text = es.read_text("utf-8")
    first_ctx = text.index("\nmsgctxt ")
    es.write_text(text[:first_ctx] + "\n#, fuzzy" + text[first_ctx:], "utf-8")
    fr = catalog_path(settings.locales_dir, "fr")
    fr.write_text(fr.read_text("utf-8") + '\nmsgid "dangling"\n', "utf-8")

    serial = localize_corpus(settings, workers=1)
    pooled = localize_corpus(settings, workers=2)

    assert serial.incomplete and serial.catalog_errors and serial.removed == ("it",)
    assert _summary(pooled) == _summary(serial)
    for language, renditions in serial.renditions.items():
        assert [r.content_hash for r in pooled.renditions[language]] == [
            r.content_hash for r in renditions
        ]


def test_catalogs_and_catalog_errors_survive_pickling(tmp_path: Path) -> None:
    """What a worker sends back is what it read: entries, plural rule, dates, locale."""
    settings = _settings(tmp_path)
    catalog = read_catalog(catalog_path(settings.locales_dir, "de"), "de")
    copy = pickle.loads(pickle.dumps(catalog))
    assert copy.entries == catalog.entries
    assert [copy.plural(n) for n in range(30)] == [catalog.plural(n) for n in range(30)]
    assert (copy.language, copy.locale, copy.path, copy.plural_count, copy.revised) == (
        catalog.language, catalog.locale, catalog.path, catalog.plural_count, catalog.revised)
    error = CatalogError("malformed catalog: x", path="a.po", line=3, language="de")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.path, again.line, again.language) == ("a.po:3: malformed "
                                                                   "catalog: x", "a.po", 3, "de")


def test_small_corpora_stay_in_one_process() -> None:
    """Starting workers costs more than a few hundred renditions take."""
    assert default_workers(languages=9, renditions=300) == 1
    assert default_workers(languages=1, renditions=100_000) == 1


def test_pool_starts_from_a_threaded_process_without_forking_it(tmp_path: Path) -> None:
    """The service localizes from a scheduler thread while other threads hold locks: workers
    come from the fork server, never from a fork of this threaded process."""
    import threading

    from syndicate._pool import worker_context
    from syndicate.answers.content import POOL_PRELOAD

    assert worker_context(POOL_PRELOAD).get_start_method() in {"forkserver", "spawn"}
    settings = _settings(tmp_path)
    held = threading.Lock()
    held.acquire()  # a lock another thread holds, as a busy service has
    results: list[Localization] = []
    thread = threading.Thread(target=lambda: results.append(localize_corpus(settings, workers=2)))
    thread.start()
    thread.join(timeout=120)
    held.release()
    assert not thread.is_alive() and len(results) == 1
    assert _summary(results[0]) == _summary(localize_corpus(settings, workers=1))
