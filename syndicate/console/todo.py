"""Where each language stands for translators: progress counts and the to-do list, from the
answers and one language's catalog (pure but for reading the catalog).

The console reads it through :func:`syndicate.console.data.translation_state`, which caches
it per language; once the translators' status module of ``syndicate.answers`` lists the
same (file:line and reason per message), this module gives way to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ..answers import Answer, LanguageCatalog, catalog_path, read_catalog
from ..answers import translators as i18n
from ..answers.catalogs import answer_messages
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
    """Translated but failing a check: needs review."""
    error: str | None = None

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


def _todo_item(key: tuple[str | None, str], catalog: LanguageCatalog, where: str,
               fallback: str, answer: str) -> TodoItem | None:
    entry = catalog.entries.get(key)
    state = i18n.entry_state(entry)
    if state == "translated":
        return None
    reason = {"fuzzy": "fuzzy: check the translation, then remove the fuzzy flag",
              "untranslated": "untranslated"}.get(state, "")
    if state == "failing" and entry is not None:
        reason = "fails a check: " + "; ".join(entry.problems)
    location = f"{where}:{entry.line}" if entry is not None else fallback
    return TodoItem(location, answer, reason, key[1],
                    entry.strings[0] if entry and entry.strings else "")


def _todo(settings: Settings, answers: Sequence[Answer], catalog: LanguageCatalog,
          path: Path) -> list[TodoItem]:
    base = settings.locales_dir.parent
    where = _shown(path, base)
    found = [_todo_item(key, catalog, where, "interface string", "interface")
             for key in i18n.interface_keys()]
    for answer in answers:
        shown = _shown(answer.path, base)
        found.extend(_todo_item((message.context or None, message.text), catalog, where,
                                f"{shown}:{message.line}", shown)
                     for message in answer_messages(answer))
    return [item for item in found if item is not None]


def language_state(settings: Settings, answers: Sequence[Answer],
                    language: str) -> tuple[LanguageProgress, list[TodoItem]]:
    path = catalog_path(settings.locales_dir, language)
    try:
        catalog = read_catalog(path, language)
    except CatalogError as exc:
        return LanguageProgress(language, 0, len(answers), 0, 0, 0, 0, str(exc)), []
    rows = i18n.status(catalog, answers, settings.content_dir)
    totals = [sum(getattr(r.counts, name) for r in rows)
              for name in ("translated", "fuzzy", "untranslated", "failing")]
    publishable = sum(1 for r in rows[1:] if r.publishable)
    return (LanguageProgress(language, publishable, len(answers) - publishable, *totals),
            _todo(settings, answers, catalog, path))
