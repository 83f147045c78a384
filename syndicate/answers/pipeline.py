"""From files to renditions: read the corpus and catalogs, localize every answer.

This is the first half of ``build`` and ``sync``: it reads ``content/`` and ``locales/`` and
returns values. A broken answer file or a malformed catalog is reported and skipped, never fatal
to the rest; the caller decides what stays published (see :class:`Localization`).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .._pool import usable_cpus, worker_context
from ..config import Settings
from ..errors import CatalogError
from .catalogs import LanguageCatalog, catalog_path, discover_languages, read_catalog
from .content import POOL_PRELOAD, Answer, Corpus, load_corpus
from .localize import Incomplete, Rendition, localize, localize_source

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as long work advances."""


@dataclasses.dataclass(frozen=True, slots=True)
class Localization:
    """Every rendition that can be published now, and what stands in the way of the rest."""

    corpus: Corpus
    languages: tuple[str, ...]
    """Languages with a readable catalog, the source language first."""
    catalogs: dict[str, LanguageCatalog]
    renditions: dict[str, tuple[Rendition, ...]]
    """Per language, the complete renditions of published answers, in corpus order."""
    incomplete: tuple[Incomplete, ...]
    catalog_errors: tuple[CatalogError, ...]
    """Catalogs that could not be read. Their languages are *broken*, not removed: what was
    published for them before must stay as it is."""
    removed: tuple[str, ...] = ()
    """Languages asked for in the settings that have no catalog at all."""

    @property
    def broken_languages(self) -> tuple[str, ...]:
        """Languages whose catalog exists but cannot be read."""
        return tuple(error.language for error in self.catalog_errors)


def target_languages(settings: Settings) -> list[str]:
    """Languages to publish besides the source: the setting, or every catalog found."""
    found = discover_languages(settings.locales_dir)
    wanted = list(settings.languages) or found
    return [lang for lang in wanted if lang != settings.source_language]


def _read(path: Path, language: str) -> LanguageCatalog:
    try:
        return read_catalog(path, language)
    except CatalogError as exc:
        exc.language = language
        raise


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageOutcome:
    """One language localized: its catalog (or why it cannot be read) and its results."""

    language: str
    catalog: LanguageCatalog | None
    error: CatalogError | None
    renditions: tuple[Rendition, ...]
    incomplete: tuple[Incomplete, ...]


def localize_language(
    path: Path, language: str, answers: Sequence[Answer], publisher: str
) -> LanguageOutcome:
    """Read one language's catalog and localize ``answers`` with it (a worker's task)."""
    try:
        catalog = _read(path, language)
    except CatalogError as exc:
        return LanguageOutcome(language, None, exc, (), ())
    complete: list[Rendition] = []
    incomplete: list[Incomplete] = []
    for answer in answers:
        result = localize(answer, catalog, publisher)
        if isinstance(result, Incomplete):
            incomplete.append(result)
        else:
            complete.append(result)
    return LanguageOutcome(language, catalog, None, tuple(complete), tuple(incomplete))


_ANSWERS: dict[str, Sequence[Answer]] = {}
"""In a worker process: the answers of the current localization, unpickled once."""


def _localize_pickled(
    path: Path, language: str, token: str, answers: bytes, publisher: str
) -> LanguageOutcome:
    """:func:`localize_language` in a worker, with the answers pickled once by the parent.

    Pickling 1,000 answers costs about as much as unpickling them: the parent pickles them
    once for all languages, and each worker unpickles them once for all its languages.
    """
    if token not in _ANSWERS:
        _ANSWERS.clear()
        _ANSWERS[token] = pickle.loads(answers)
    return localize_language(path, language, _ANSWERS[token], publisher)


POOL_THRESHOLD = 2_000
"""Below this many renditions, starting worker processes costs more than it saves."""


def default_workers(languages: int, renditions: int) -> int:
    """Worker processes for a localization: one per usable CPU, at most one per language."""
    if renditions < POOL_THRESHOLD:
        return 1
    return max(1, min(usable_cpus(), languages))


def localize_corpus(
    settings: Settings,
    corpus: Corpus | None = None,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
) -> Localization:
    """Localize every published answer into every language that has a readable catalog.

    Languages are independent: with ``workers`` > 1 (by default one per CPU for a large
    corpus) each is read, checked and localized in a worker process. The result is the
    same as the serial one, in the same order.
    """
    if corpus is None:
        corpus = load_corpus(settings.content_dir, future_days=settings.review_future_days)
    answers = corpus.published
    paths, missing = _catalog_paths(settings)
    total = len(answers) * (len(paths) + 1)
    if workers is None:
        workers = default_workers(len(paths), total)
    advance = _Advance(progress, total)
    if workers > 1 and len(paths) > 1:
        source, outcomes = _localize_pooled(settings, answers, paths, workers, advance)
    else:
        source, outcomes = _localize_serial(settings, answers, paths, advance)
    return _localization(settings, corpus, paths, source, outcomes, missing)


def _catalog_paths(settings: Settings) -> tuple[dict[str, Path], list[str]]:
    """The catalog of each target language that has one; the languages that have none."""
    paths: dict[str, Path] = {}
    missing: list[str] = []
    for language in target_languages(settings):
        path = catalog_path(settings.locales_dir, language)
        if path.exists():
            paths[language] = path
        else:
            missing.append(language)
    return paths, missing


class _Advance:
    """Renditions done so far, told to ``progress`` (if any) at every step."""

    __slots__ = ("done", "progress", "total")

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def __call__(self, count: int) -> None:
        self.done += count
        if self.progress:
            self.progress("localize", self.done, self.total)


_Results = tuple[tuple[Rendition, ...], dict[str, LanguageOutcome]]
"""The source language's renditions, and each other language's outcome."""


def _localize_pooled(
    settings: Settings,
    answers: Sequence[Answer],
    paths: dict[str, Path],
    workers: int,
    advance: _Advance,
) -> _Results:
    """Each language in a worker process; the source language meanwhile, in this one."""
    publisher = settings.publisher
    outcomes: dict[str, LanguageOutcome] = {}
    payload = pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)
    token = f"{os.getpid()}-{id(payload)}-{time.monotonic_ns()}"
    with ProcessPoolExecutor(
        max_workers=min(workers, len(paths)), mp_context=worker_context(POOL_PRELOAD)
    ) as pool:
        futures = {
            pool.submit(_localize_pickled, path, language, token, payload, publisher):
                language
            for language, path in paths.items()
        }
        source = _localize_source(answers, settings)
        advance(len(answers))
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            advance(len(answers))
    return source, outcomes


def _localize_serial(
    settings: Settings, answers: Sequence[Answer], paths: dict[str, Path], advance: _Advance
) -> _Results:
    """The source language, then each language in turn, in this process."""
    source = _localize_source(answers, settings)
    advance(len(answers))
    outcomes: dict[str, LanguageOutcome] = {}
    for language, path in paths.items():
        outcomes[language] = localize_language(path, language, answers, settings.publisher)
        advance(len(answers))
    return source, outcomes


def _localization(
    settings: Settings,
    corpus: Corpus,
    paths: dict[str, Path],
    source: tuple[Rendition, ...],
    outcomes: dict[str, LanguageOutcome],
    missing: list[str],
) -> Localization:
    """Gather the outcomes in the order of ``paths``: catalogs read, and those that were not."""
    catalogs: dict[str, LanguageCatalog] = {}
    errors: list[CatalogError] = []
    renditions: dict[str, tuple[Rendition, ...]] = {settings.source_language: source}
    incomplete: list[Incomplete] = []
    for language in paths:
        outcome = outcomes[language]
        if outcome.catalog is None:
            assert outcome.error is not None
            errors.append(outcome.error)
            continue
        catalogs[language] = outcome.catalog
        renditions[language] = outcome.renditions
        incomplete.extend(outcome.incomplete)
    return Localization(
        corpus=corpus,
        languages=(settings.source_language, *catalogs),
        catalogs=catalogs,
        renditions=renditions,
        incomplete=tuple(incomplete),
        catalog_errors=tuple(errors),
        removed=tuple(missing),
    )


def _localize_source(answers: Sequence[Answer], settings: Settings) -> tuple[Rendition, ...]:
    return tuple(
        localize_source(answer, settings.source_language, settings.publisher)
        for answer in answers
    )
