"""Where each language stands for translators: progress counts and the to-do list.

The figures are those of ``syndicate i18n status`` (:mod:`syndicate.answers.status`): the
same states, the same reasons with ``file:line``, the same answers needing medical review of
their translation; this module only shapes them for the console's pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ..answers import Answer, catalog_path, read_catalog
from ..answers.status import Finding, broken_status, language_status, scopes
from ..config import Settings
from ..errors import CatalogError


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageProgress:
    """One language's progress: answers publishable or blocked, messages by state."""

    language: str
    publishable: int
    blocked: int
    translated: int
    fuzzy: int
    untranslated: int
    failing: int
    """Translated but failing a check (a dose without a recorded review among them)."""
    error: str | None = None
    needs_review: int = 0
    """Translated, passing, but carrying a dose or a negation: a medical reviewer should
    read the translation (``i18n status --review``)."""

    @property
    def messages(self) -> int:
        """Every message of the language."""
        return self.translated + self.fuzzy + self.untranslated + self.failing


@dataclasses.dataclass(frozen=True, slots=True)
class TodoItem:
    """One message a translator has to do: where, why, and the text."""

    location: str
    """``locales/<lang>/LC_MESSAGES/syndicate.po:<line>``, or the answer file's line when the
    catalog has no entry."""
    answer: str
    reason: str
    source: str
    translation: str


def _shown(path: Path | str, base: Path) -> str:
    """A file as translators know it: relative to the folder that holds ``content/`` and
    ``locales/`` when it is inside it."""
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _item(finding: Finding, base: Path, translations: dict[str, str]) -> TodoItem:
    return TodoItem(f"{_shown(finding.path, base)}:{finding.line}" if finding.line
                    else _shown(finding.path, base),
                    finding.answer, finding.reason, finding.msgid,
                    translations.get(finding.msgid, ""))


def language_state(settings: Settings, answers: Sequence[Answer],
                   language: str) -> tuple[LanguageProgress, list[TodoItem]]:
    """One language's progress and to-do list, as ``i18n status --todo`` gives them."""
    path = catalog_path(settings.locales_dir, language)
    found_scopes = scopes(answers, settings.content_dir)
    translations: dict[str, str] = {}
    try:
        catalog = read_catalog(path, language,
                               require_review=settings.require_translation_review)
    except CatalogError as exc:
        found = broken_status(language, str(exc), found_scopes)
    else:
        found = language_status(catalog, found_scopes)
        translations = {key[1]: entry.strings[0] for key, entry in catalog.entries.items()
                        if entry.strings}
    summary = found.summary()
    translated, fuzzy, untranslated, failing = (
        sum(getattr(row.counts, name) for row in found.rows)
        for name in ("translated", "fuzzy", "untranslated", "failing"))
    progress = LanguageProgress(
        language, int(str(summary["publishable"])), int(str(summary["blocked"])), translated,
        fuzzy, untranslated, failing, error=found.error,
        needs_review=int(str(summary["needs_review"])))
    base = settings.locales_dir.parent
    return progress, [_item(finding, base, translations) for finding in found.todo]
