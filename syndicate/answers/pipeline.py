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
from ._cache import (
    CachedLanguage,
    LanguageInputs,
    LocalizationCache,
    Result,
    Results,
    answer_digest,
    localize_cached,
    results_key,
    reuse,
)
from .catalog_cache import CACHE_FOLDER
from .catalogs import (
    LanguageCatalog,
    catalog_path,
    discover_languages,
    interface_catalog,
    read_catalog,
)
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
    """Per language, its checked catalog without the messages of the answers localized here
    (:func:`.catalogs.interface_catalog`): what publication still looks up."""
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
    return LanguageOutcome(language, interface_catalog(catalog, [a.id for a in answers]), None,
                           tuple(complete), tuple(incomplete))


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
            pool.submit(_localize_pickled, path, language, token, payload, publisher,
                        settings.require_translation_review):
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


def _split(results: Sequence[Result]) -> tuple[tuple[Rendition, ...], tuple[Incomplete, ...]]:
    """Results in corpus order: the complete renditions, the refusals."""
    return (tuple(r for r in results if isinstance(r, Rendition)),
            tuple(r for r in results if isinstance(r, Incomplete)))


def _outcome(done: CachedLanguage) -> LanguageOutcome:
    complete, incomplete = _split(done.results)
    return LanguageOutcome(done.language, done.catalog, done.error, complete, incomplete)


_INPUTS: dict[str, LanguageInputs] = {}
"""In a worker process: the inputs of the current localization, unpickled once."""


def _localize_cached_pickled(
    root: Path | None, status_dir: Path | None, path: Path, language: str, token: str,
    inputs: bytes,
) -> CachedLanguage:
    """:func:`._cache.localize_cached` in a worker, the inputs pickled once by the parent
    (see :func:`_localize_pickled`)."""
    if token not in _INPUTS:
        _INPUTS.clear()
        _INPUTS[token] = pickle.loads(inputs)
    return localize_cached(LocalizationCache(root), path, language, _INPUTS[token],
                           status_dir=status_dir)


# Longer than 60 lines: one pass over the languages, each reused, computed here or pooled.
def _localize_cached(
    settings: Settings, corpus: Corpus, paths: dict[str, Path], missing: list[str],
    cache: LocalizationCache, progress: Progress | None, workers: int | None,
) -> Localization:
    """:func:`localize_corpus` that localizes only what the cache does not hold.

    A language whose checked catalog the cache holds is localized here when little is left
    to do; the others (the catalog to read and check) go to worker processes when there are
    several, each read, checked and kept there once (the checks' findings also go to the
    cache ``i18n status`` reads, under the state folder, so that both share one record)."""
    answers = corpus.published
    inputs = LanguageInputs(answers, {answer.id: answer_digest(answer) for answer in answers},
                            settings.publisher, settings.source_language,
                            settings.require_translation_review)
    status_dir = settings.state_dir / CACHE_FOLDER
    advance = _Advance(progress, len(answers) * (len(paths) + 1))
    source_lang = settings.source_language
    kept = cache.results(source_lang, results_key(inputs, source_lang, ""))
    found, todo = reuse(kept, inputs.digests, answers)
    for answer in todo:
        found[answer.id] = localize_source(answer, source_lang, settings.publisher)
    if todo or len(kept) != len(found):
        cache.keep(source_lang, results_key(inputs, source_lang, ""),
                   {i: (inputs.digests[i], found[i]) for i in found}, kept)
    source, _ = _split([found[answer.id] for answer in answers])
    rerendered = {source_lang: tuple(answer.id for answer in todo)}
    advance(len(answers))

    done: dict[str, CachedLanguage] = {}
    known: dict[str, tuple[LanguageCatalog, str, Results]] = {}
    work = 0
    for language, path in paths.items():
        held = cache.kept_catalog(path, language, inputs.require_review)
        if held is None:  # to read and check: a whole language's work
            work += len(answers)
            continue
        results = cache.results(language, results_key(inputs, language, held[1]))
        left = sum(1 for answer in answers
                   if results.get(answer.id, ("",))[0] != inputs.digests[answer.id])
        if not left:
            done[language] = localize_cached(cache, path, language, inputs,
                                             known=(*held, results))
            advance(len(answers))
        else:
            known[language] = (*held, results)
            work += left
    tasks = [language for language in paths if language not in done]
    if workers is None:
        workers = default_workers(len(tasks), work)
    if workers > 1 and len(tasks) > 1:
        known.clear()  # each worker reads what it needs from the cache itself
        payload = pickle.dumps(inputs, protocol=pickle.HIGHEST_PROTOCOL)
        token = f"{os.getpid()}-{id(payload)}-{time.monotonic_ns()}"
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                                 mp_context=worker_context(POOL_PRELOAD)) as pool:
            futures = {pool.submit(_localize_cached_pickled, cache.root, status_dir,
                                   paths[language], language, token, payload): language
                       for language in tasks}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                advance(len(answers))
    for language in tasks:
        if language not in done:
            done[language] = localize_cached(cache, paths[language], language, inputs,
                                             status_dir=status_dir, known=known.get(language))
            advance(len(answers))
    outcomes = {language: _outcome(item) for language, item in done.items()}
    rerendered.update({language: item.fresh for language, item in done.items()
                       if item.catalog is not None})
    return dataclasses.replace(
        _localization(settings, corpus, paths, source, outcomes, missing),
        rerendered=rerendered)
