"""From files to renditions: read the corpus and catalogs, localize every answer.

This is the first half of ``build`` and ``sync``: it reads ``content/`` and ``locales/`` and
returns values. A broken answer file or a malformed catalog is reported and skipped, never fatal
to the rest; the caller decides what stays published (see :class:`Localization`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .catalogs import LanguageCatalog, catalog_path, discover_languages, read_catalog
from .config import Settings
from .content import Corpus, load_corpus
from .errors import CatalogError
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


def load_catalogs(
    settings: Settings, languages: list[str]
) -> tuple[dict[str, LanguageCatalog], list[CatalogError], list[str]]:
    """Read the catalog of every language; errors are collected, missing ones listed."""
    catalogs: dict[str, LanguageCatalog] = {}
    errors: list[CatalogError] = []
    missing: list[str] = []
    for language in languages:
        path = catalog_path(settings.locales_dir, language)
        if not path.exists():
            missing.append(language)
            continue
        try:
            catalogs[language] = read_catalog(path, language)
        except CatalogError as exc:
            exc.language = language
            errors.append(exc)
    return catalogs, errors, missing


def localize_corpus(
    settings: Settings, corpus: Corpus | None = None, progress: Progress | None = None
) -> Localization:
    """Localize every published answer into every language that has a readable catalog."""
    if corpus is None:
        corpus = load_corpus(settings.content_dir)
    catalogs, errors, missing = load_catalogs(settings, target_languages(settings))
    answers = corpus.published
    renditions: dict[str, tuple[Rendition, ...]] = {
        settings.source_language: tuple(
            localize_source(answer, settings.source_language, settings.publisher)
            for answer in answers
        )
    }
    incomplete: list[Incomplete] = []
    total = len(answers) * (len(catalogs) + 1)
    done = len(answers)
    if progress:
        progress("localize", done, total)
    for language, catalog in catalogs.items():
        complete: list[Rendition] = []
        for answer in answers:
            result = localize(answer, catalog, settings.publisher)
            if isinstance(result, Incomplete):
                incomplete.append(result)
            else:
                complete.append(result)
        renditions[language] = tuple(complete)
        done += len(answers)
        if progress:
            progress("localize", done, total)
    return Localization(
        corpus=corpus,
        languages=(settings.source_language, *catalogs),
        catalogs=catalogs,
        renditions=renditions,
        incomplete=tuple(incomplete),
        catalog_errors=tuple(errors),
        removed=tuple(missing),
    )

