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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .._pool import usable_cpus, worker_context
from ..config import Settings
from ..errors import CatalogError
from ._cache import LocalizationCache, Result, Results, answer_digest, file_digest
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
    rerendered: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Per language, the answers localized afresh by this run (the others came from the
    cache of the last run: :mod:`._cache`). Without a cache, every answer of every
    language."""

    @property
    def broken_languages(self) -> tuple[str, ...]:
        """Languages whose catalog exists but cannot be read."""
        return tuple(error.language for error in self.catalog_errors)


def target_languages(settings: Settings) -> list[str]:
    """Languages to publish besides the source: the setting, or every catalog found."""
    found = discover_languages(settings.locales_dir)
    wanted = list(settings.languages) or found
    return [lang for lang in wanted if lang != settings.source_language]


def _read(path: Path, language: str, require_review: bool = True) -> LanguageCatalog:
    try:
        return read_catalog(path, language, require_review=require_review)
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
    path: Path, language: str, answers: Sequence[Answer], publisher: str,
    require_review: bool = True,
) -> LanguageOutcome:
    """Read one language's catalog and localize ``answers`` with it (a worker's task)."""
    try:
        catalog = _read(path, language, require_review)
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
    path: Path, language: str, token: str, answers: bytes, publisher: str,
    require_review: bool = True,
) -> LanguageOutcome:
    """:func:`localize_language` in a worker, with the answers pickled once by the parent.

    Pickling 1,000 answers costs about as much as unpickling them: the parent pickles them
    once for all languages, and each worker unpickles them once for all its languages.
    """
    if token not in _ANSWERS:
        _ANSWERS.clear()
        _ANSWERS[token] = pickle.loads(answers)
    return localize_language(path, language, _ANSWERS[token], publisher, require_review)


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
    cache_dir: Path | None = None,
) -> Localization:
    """Localize every published answer into every language that has a readable catalog.

    Languages are independent: with ``workers`` > 1 (by default one per CPU for a large
    corpus) each is read, checked and localized in a worker process. The result is the
    same as the serial one, in the same order.

    With ``cache_dir``, what the last run there localized from the same inputs is reused
    and only the rest is localized (:mod:`._cache`); the result is the same as without.
    """
    if cache_dir is not None:
        cache = LocalizationCache(cache_dir)
        if corpus is None:
            corpus = load_corpus(settings.content_dir, parse=cache.parse_files,
                                 future_days=settings.review_future_days)
        paths, missing = _catalog_paths(settings)
        return _localize_cached(settings, corpus, paths, missing, cache, progress, workers)
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
    everything = tuple(answer.id for answer in answers)
    return dataclasses.replace(
        _localization(settings, corpus, paths, source, outcomes, missing),
        rerendered={language: everything for language in (settings.source_language, *paths)})


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
    advance: Callable[[int], None],
    with_source: bool = True,
) -> _Results:
    """Each language in a worker process; the source language meanwhile, in this one
    (unless not ``with_source``)."""
    publisher = settings.publisher
    outcomes: dict[str, LanguageOutcome] = {}
    payload = pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)
    token = f"{os.getpid()}-{id(payload)}-{time.monotonic_ns()}"
    with ProcessPoolExecutor(
        max_workers=min(workers, len(paths)), mp_context=worker_context(POOL_PRELOAD)
    ) as pool:
        futures = {
            pool.submit(_localize_pickled, path, language, token, payload, publisher,
                        settings.require_translation_review):
                language
            for language, path in paths.items()
        }
        source = _localize_source(answers, settings) if with_source else ()
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
        outcomes[language] = localize_language(path, language, answers, settings.publisher,
                                               settings.require_translation_review)
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


# -- with the cache of the last run ----------------------------------------------------------


def _reuse(kept: Results, digests: dict[str, str], answers: Sequence[Answer]
           ) -> tuple[dict[str, Result], list[Answer]]:
    """The kept results still valid for ``answers``; the answers left to localize."""
    found: dict[str, Result] = {}
    todo: list[Answer] = []
    for answer in answers:
        entry = kept.get(answer.id)
        if entry is not None and entry[0] == digests[answer.id]:
            found[answer.id] = entry[1]
        else:
            todo.append(answer)
    return found, todo


def _split(answers: Sequence[Answer], found: dict[str, Result]
           ) -> tuple[tuple[Rendition, ...], tuple[Incomplete, ...]]:
    """Results in corpus order: the complete renditions, the refusals."""
    ordered = [found[answer.id] for answer in answers]
    return (tuple(r for r in ordered if isinstance(r, Rendition)),
            tuple(r for r in ordered if isinstance(r, Incomplete)))


# Longer than 60 lines: one pass over the languages, each reusing, computing or pooling.
def _localize_cached(
    settings: Settings, corpus: Corpus, paths: dict[str, Path], missing: list[str],
    cache: LocalizationCache, progress: Progress | None, workers: int | None,
) -> Localization:
    """:func:`localize_corpus` that localizes only what the cache does not hold."""
    answers = corpus.published
    digests = {answer.id: answer_digest(answer) for answer in answers}
    base = (settings.publisher, settings.source_language)
    source_lang = settings.source_language
    advance = _Advance(progress, len(answers) * (len(paths) + 1))
    rerendered: dict[str, tuple[str, ...]] = {}

    def finish(language: str, key: object, kept: Results, found: dict[str, Result],
               todo: Sequence[Answer], trusted: bool = True) -> None:
        rerendered[language] = tuple(answer.id for answer in todo)
        if trusted and (todo or len(kept) != len(found)):
            cache.keep(language, key, {i: (digests[i], found[i]) for i in found}, kept)
        advance(len(answers))

    source_key = (*base, source_lang)
    kept = cache.results(source_lang, source_key)
    found, todo = _reuse(kept, digests, answers)
    for answer in todo:
        found[answer.id] = localize_source(answer, source_lang, settings.publisher)
    finish(source_lang, source_key, kept, found, todo)
    source, _ = _split(answers, found)

    outcomes: dict[str, LanguageOutcome] = {}
    pending: dict[str, tuple[object, Results, dict[str, Result], list[Answer], str]] = {}
    for language, path in paths.items():
        try:
            catalog, digest = cache.catalog(path, language)
        except CatalogError as exc:
            exc.language = language
            outcomes[language] = LanguageOutcome(language, None, exc, (), ())
            advance(len(answers))
            continue
        key = (*base, language, digest)
        kept = cache.results(language, key)
        found, todo = _reuse(kept, digests, answers)
        outcomes[language] = LanguageOutcome(language, catalog, None, (), ())
        pending[language] = (key, kept, found, todo, digest)
    work = sum(len(entry[3]) for entry in pending.values())
    if workers is None:
        workers = default_workers(len(pending), work)
    pooled = [lang for lang, entry in pending.items() if entry[3]]
    if workers > 1 and len(pooled) > 1:
        _, fresh = _localize_pooled(settings, answers, {lang: paths[lang] for lang in pooled},
                                    workers, lambda count: None, with_source=False)
        for language, outcome in fresh.items():
            if outcome.catalog is None:  # the file changed since it was read above
                outcomes[language] = outcome
                pending.pop(language)
                continue
            made: list[Result] = [*outcome.renditions, *outcome.incomplete]
            pending[language][2].update({result.answer_id: result for result in made})
    for language, (kept_key, kept, found, todo, digest) in pending.items():
        read = outcomes[language].catalog
        assert read is not None
        trusted = bool(digest)
        if language not in pooled or workers <= 1 or len(pooled) <= 1:
            for answer in todo:
                found[answer.id] = localize(answer, read, settings.publisher)
        elif todo:  # the worker read the file again: keep only if it is still the same
            trusted = trusted and file_digest(paths[language]) == digest
        finish(language, kept_key, kept, found, todo, trusted)
        complete, incomplete = _split(answers, found)
        outcomes[language] = LanguageOutcome(language, read, None, complete, incomplete)
    return dataclasses.replace(
        _localization(settings, corpus, paths, source, outcomes, missing),
        rerendered=rerendered)
