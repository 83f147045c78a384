"""Where each language stands for translators: progress counts and the to-do list.

The figures are those of ``syndicate i18n status`` (:mod:`syndicate.answers.status`), from
the same function and the same cache (``<state>/i18n-cache``: each checked catalog's digest
and the answers' messages, keyed by the files' bytes and the checking code): the same
states, the same reasons with ``file:line``, the same answers needing medical review of
their translation. A translator's ``i18n status`` warms the console's first read and the
console warms the command; this module only shapes the figures for the console's pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ..answers.status import CACHE_FOLDER, Finding, Scope, cached_scopes, cached_status
from ..config import Settings


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


def _item(finding: Finding, base: Path) -> TodoItem:
    return TodoItem(f"{_shown(finding.path, base)}:{finding.line}" if finding.line
                    else _shown(finding.path, base),
                    finding.answer, finding.reason, finding.msgid, finding.translation)


def cache_dir(settings: Settings) -> Path:
    """The cache ``syndicate i18n status`` keeps (the same folder, so each warms the other)."""
    return settings.state_dir / CACHE_FOLDER


def answer_scopes(settings: Settings) -> list[Scope]:
    """The messages of every published answer and of the interface, from the cache when no
    answer file changed since it was written."""
    return cached_scopes(settings.content_dir, cache_dir(settings))


def language_state(settings: Settings, scopes_: Sequence[Scope],
                   language: str) -> tuple[LanguageProgress, list[TodoItem]]:
    """One language's progress and to-do list, as ``i18n status --todo`` gives them."""
    found = cached_status(settings.locales_dir, language, scopes_, cache_dir(settings),
                          require_review=settings.require_translation_review)
    summary = found.summary()
    translated, fuzzy, untranslated, failing = (
        sum(getattr(row.counts, name) for row in found.rows)
        for name in ("translated", "fuzzy", "untranslated", "failing"))
    progress = LanguageProgress(
        language, int(str(summary["publishable"])), int(str(summary["blocked"])), translated,
        fuzzy, untranslated, failing, error=found.error,
        needs_review=int(str(summary["needs_review"])))
    base = settings.locales_dir.parent
    return progress, [_item(finding, base) for finding in found.todo]
