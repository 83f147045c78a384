"""How far each language's translation is, and what blocks it: ``syndicate i18n status``.

Completeness is never taken from Babel's statistics (they count fuzzy entries as translated):
every entry is classified here, from the checked catalog of :mod:`.catalogs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from . import ui
from .catalogs import Entry, Key, LanguageCatalog, message_keys
from .content import Answer

EntryState = Literal["translated", "fuzzy", "untranslated", "failing"]


def interface_keys() -> list[Key]:
    """Keys of every interface string (see :mod:`syndicate.answers.ui`), without repeats."""
    return list(dict.fromkeys(
        (None, message if isinstance(message, str) else message[0])
        for message in ui.interface_messages()
    ))


def entry_state(entry: Entry | None) -> EntryState:
    """How far one entry is: fuzzy counts as not translated, whatever Babel says."""
    if entry is None:
        return "untranslated"
    if entry.fuzzy:
        return "fuzzy"
    if not entry.translated:
        return "untranslated"
    if entry.problems:
        return "failing"
    return "translated"


@dataclasses.dataclass(frozen=True, slots=True)
class Counts:
    """How many messages of a scope are in each state."""

    translated: int = 0
    fuzzy: int = 0
    untranslated: int = 0
    failing: int = 0
    """Translated, not fuzzy, but failing a check: not usable either."""

    @property
    def total(self) -> int:
        """Every message of the scope."""
        return self.translated + self.fuzzy + self.untranslated + self.failing

    @property
    def complete(self) -> bool:
        """Every message usable."""
        return self.translated == self.total


def count(catalog: LanguageCatalog, keys: Iterable[Key]) -> Counts:
    """Classify the entries of ``keys`` in ``catalog`` (pure)."""
    tally = {"translated": 0, "fuzzy": 0, "untranslated": 0, "failing": 0}
    for key in keys:
        tally[entry_state(catalog.entries.get(key))] += 1
    return Counts(**tally)


@dataclasses.dataclass(frozen=True, slots=True)
class StatusRow:
    """The state of one answer (or of the interface strings) in one language."""

    language: str
    scope: str
    """The answer's id, or ``interface``."""
    label: str
    """The answer's file, or ``interface strings``."""
    counts: Counts
    publishable: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "language": self.language,
            "scope": self.scope,
            "label": self.label,
            **dataclasses.asdict(self.counts),
            "total": self.counts.total,
            "publishable": self.publishable,
        }


def _label(answer: Answer, content_dir: Path | None) -> str:
    if content_dir is not None:
        try:
            return Path(answer.path).relative_to(content_dir).as_posix()
        except ValueError:
            pass
    return answer.path


def status(
    catalog: LanguageCatalog, answers: Sequence[Answer], content_dir: Path | None = None
) -> list[StatusRow]:
    """Per answer and for the interface strings: counts and whether it may be published.

    An answer is publishable in the language when every one of its messages and every
    interface string is usable (translated, not fuzzy, passing the checks). Answers are
    labelled by their file, relative to ``content_dir`` when given.
    """
    interface = count(catalog, interface_keys())
    rows = [
        StatusRow(catalog.language, "interface", "interface strings", interface,
                  interface.complete)
    ]
    for answer in answers:
        counts = count(catalog, message_keys(answer))
        rows.append(
            StatusRow(catalog.language, answer.id, _label(answer, content_dir), counts,
                      counts.complete and interface.complete)
        )
    return rows


def broken_rows(
    language: str, answers: Sequence[Answer], content_dir: Path | None = None
) -> Iterator[StatusRow]:
    """Rows for a language whose catalog cannot be read: nothing is usable."""
    yield StatusRow(language, "interface", "interface strings",
                    Counts(untranslated=len(interface_keys())), False)
    for answer in answers:
        yield StatusRow(language, answer.id, _label(answer, content_dir),
                        Counts(untranslated=len(message_keys(answer))), False)

