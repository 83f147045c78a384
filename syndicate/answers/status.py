"""How far each language's translation is, and what blocks it: ``syndicate i18n status``.

Completeness is never taken from Babel's statistics (they count fuzzy entries as translated):
every entry is classified here, from the checked catalog of :mod:`.catalogs`. For each
language: a summary (answers publishable and blocked, messages fuzzy, untranslated, failing a
check, waiting for a medical review of their translation), a row per answer, every message
that blocks an answer with the file and line to fix and why (``--todo``), and every message
whose source carries a dose or a negation (``--review``). An answer is named the same way
everywhere: its id and its file, ``75da64d16c9fcccc (lupus/what-causes-lupus.md)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from .._files import write_atomic
from ..errors import CatalogError
from . import ui
from .catalog_cache import CACHE_FOLDER as CACHE_FOLDER
from .catalog_cache import (
    CatalogDigest,
    code_key,
    digest,
    entry_state,
    message_hash,
    read_digest,
)
from .catalogs import Key, LanguageCatalog, SourceMessage, answer_messages, catalog_path
from .clinical import review_reasons
from .content import Answer, load_corpus
from .provenance import EXAMPLE


def interface_keys() -> list[Key]:
    """Keys of every interface string (see :mod:`syndicate.answers.ui`), without repeats."""
    return list(dict.fromkeys(
        (None, message if isinstance(message, str) else message[0])
        for message in ui.interface_messages()
    ))


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
    """The answer's name (:func:`answer_name`), or ``interface strings``."""
    counts: Counts
    publishable: bool
    needs_review: int = 0
    """Translated messages whose source carries a dose or a negation."""
    path: str = ""
    """The answer's file, relative to the content folder."""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "language": self.language,
            "scope": self.scope,
            "label": self.label,
            "path": self.path,
            "translated": self.counts.translated,
            "fuzzy": self.counts.fuzzy,
            "untranslated": self.counts.untranslated,
            "failing": self.counts.failing,
            "needs_review": self.needs_review,
            "total": self.counts.total,
            "publishable": self.publishable,
        }


UNREVIEWED = ("carries a dose: needs a recorded medical review of this answer's translation "
              f"({EXAMPLE!r} on the answer's title)")


def answer_path(answer: Answer, content_dir: Path | None) -> str:
    """The answer's file, relative to ``content_dir`` when it is inside."""
    if content_dir is not None:
        try:
            return Path(answer.path).relative_to(content_dir).as_posix()
        except ValueError:
            pass
    return answer.path


def answer_name(answer: Answer, content_dir: Path | None = None) -> str:
    """The one name of an answer in every report: ``id (file)``."""
    return f"{answer.id} ({answer_path(answer, content_dir)})"


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One message to act on: where to fix it, in which answer, and why."""

    language: str
    answer: str
    """The answer's name, or ``interface strings``."""
    path: str
    """The catalog (or, for a message missing from it, the answer file)."""
    line: int
    reason: str
    msgid: str
    translation: str = ""
    """The message's translation as the catalog has it (empty when it has none)."""

    def __str__(self) -> str:
        excerpt = self.msgid if len(self.msgid) <= 60 else self.msgid[:57] + "..."
        return f"{self.path}:{self.line}: {self.answer}: {self.reason}: {excerpt!r}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {"language": self.language, "answer": self.answer, "path": self.path,
                "line": self.line, "reason": self.reason, "msgid": self.msgid}


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageStatus:
    """Everything ``i18n status`` says about one language."""

    language: str
    rows: tuple[StatusRow, ...]
    todo: tuple[Finding, ...]
    review: tuple[Finding, ...]
    error: str | None = None
    """Why the catalog cannot be read (then nothing is publishable)."""

    def summary(self) -> dict[str, object]:
        """The language's line: answers publishable and blocked, messages by state."""
        answers = [row for row in self.rows if row.scope != "interface"]
        total = Counts(*(sum(getattr(row.counts, name) for row in self.rows)
                         for name in ("translated", "fuzzy", "untranslated", "failing")))
        return {
            "language": self.language, "answers": len(answers),
            "publishable": sum(row.publishable for row in answers),
            "blocked": sum(not row.publishable for row in answers),
            "fuzzy": total.fuzzy, "untranslated": total.untranslated, "failing": total.failing,
            "needs_review": sum(row.needs_review for row in self.rows), "error": self.error,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
    """The messages of an answer (or of the interface), computed once for every language."""

    scope: str
    label: str
    path: str
    messages: tuple[tuple[Key, str, str, int, tuple[str, ...]], ...]
    """``(key, its hash, source file, source line, review reasons)`` of each message."""


def scopes(answers: Sequence[Answer], content_dir: Path | None = None) -> list[Scope]:
    """The interface strings and every answer, with their messages."""
    interface = tuple((key, message_hash(key), "syndicate/answers/ui.py", 0,
                       review_reasons(key[1])) for key in interface_keys())
    found = [Scope("interface", "interface strings", "", interface)]
    for answer in answers:
        seen: dict[Key, SourceMessage] = {}
        for message in answer_messages(answer):
            seen.setdefault((message.context, message.text), message)
        path = answer_path(answer, content_dir)
        found.append(Scope(answer.id, answer_name(answer, content_dir), path, tuple(
            (key, message_hash(key), answer.path, message.line, review_reasons(message.text))
            for key, message in seen.items())))
    return found


def cached_scopes(content_dir: Path, cache_dir: Path | None) -> list[Scope]:
    """:func:`scopes` of the published answers under ``content_dir``, kept in ``cache_dir``
    under a digest of every answer file's name, size and modification time and of the code
    that reads them: parsing 1,000 answers costs seconds, and a translator asking for the
    status again has usually not touched them."""
    if cache_dir is None:
        return scopes(load_corpus(content_dir).published, content_dir)
    key = hashlib.sha256(code_key().encode() + Path(__file__).read_bytes())
    key.update(str(content_dir.resolve()).encode())
    for path in sorted(content_dir.rglob("*.md")) if content_dir.is_dir() else ():
        try:
            info = path.stat()
        except OSError:
            continue
        key.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    stored = cache_dir / "answers.json"
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        data = json.loads(stored.read_bytes())
        if data["key"] == key.hexdigest():
            return [Scope(scope, label, path, tuple(
                ((context, msgid), name, source, line, tuple(reasons))
                for context, msgid, name, source, line, reasons in messages))
                for scope, label, path, messages in data["scopes"]]
    found = scopes(load_corpus(content_dir).published, content_dir)
    with contextlib.suppress(OSError):
        write_atomic(stored, json.dumps({"key": key.hexdigest(), "scopes": [
            [scope.scope, scope.label, scope.path,
             [[k[0], k[1], name, source, line, list(reasons)]
              for k, name, source, line, reasons in scope.messages]]
            for scope in found]}, ensure_ascii=False).encode("utf-8"))
    return found


def language_status(found: CatalogDigest | LanguageCatalog,
                    scopes_: Sequence[Scope]) -> LanguageStatus:
    """Rows, blocking messages and messages to review of one language (pure).

    An answer is publishable when every one of its messages and every interface string is
    usable (translated, not fuzzy, passing the checks).
    """
    catalog = found if isinstance(found, CatalogDigest) else digest(found)
    rows: list[StatusRow] = []
    todo: list[Finding] = []
    review: list[Finding] = []
    interface_ok = True
    entries = catalog.entries
    for scope in scopes_:
        tally = {"translated": 0, "fuzzy": 0, "untranslated": 0, "failing": 0}
        needs_review = 0
        for key, name, source_path, source_line, reasons in scope.messages:
            entry = entries.get(name)
            if entry is None:
                tally["untranslated"] += 1
                todo.append(Finding(
                    catalog.language, scope.label, source_path, source_line,
                    "missing from the catalog (run syndicate i18n extract and update)", key[1]))
                continue
            line, state, reason, translation = entry
            if state == "translated" and "dose" in reasons and catalog.unreviewed_dose(key):
                state, reason = "failing", UNREVIEWED
            tally[state] += 1
            if state != "translated":
                todo.append(Finding(catalog.language, scope.label, catalog.path, line, reason,
                                    key[1], translation))
            elif reasons and key[0] not in catalog.reviews:
                needs_review += 1
                review.append(Finding(
                    catalog.language, scope.label, catalog.path, line,
                    f"needs medical review of the translation ({', '.join(reasons)})", key[1]))
        counts = Counts(**tally)
        publishable = counts.complete and (interface_ok or scope.scope == "interface")
        if scope.scope == "interface":
            interface_ok = counts.complete
        rows.append(StatusRow(catalog.language, scope.scope, scope.label, counts, publishable,
                              needs_review, scope.path))
    return LanguageStatus(catalog.language, tuple(rows), tuple(todo), tuple(review))


def broken_status(language: str, error: str, scopes_: Sequence[Scope]) -> LanguageStatus:
    """A language whose catalog cannot be read: nothing is usable; the error is the todo."""
    rows = tuple(StatusRow(language, scope.scope, scope.label,
                           Counts(untranslated=len(scope.messages)), False, 0, scope.path)
                 for scope in scopes_)
    path, _, rest = error.partition(": ")
    where, _, line = path.rpartition(":")
    finding = Finding(language, "every answer", where if line.isdigit() else path,
                      int(line) if line.isdigit() else 0, rest or error, "")
    return LanguageStatus(language, rows, (finding,), (), error)


def cached_status(locales_dir: Path, language: str, scopes_: Sequence[Scope],
                  cache_dir: Path | None, *, require_review: bool = True) -> LanguageStatus:
    """One language's status, its catalog's digest read from ``cache_dir`` when the file and
    the checking code are those it was made from (:func:`.catalog_cache.read_digest`)."""
    try:
        catalog = read_digest(catalog_path(locales_dir, language), language, cache_dir,
                              require_review=require_review)
    except CatalogError as exc:
        return broken_status(language, str(exc), scopes_)
    return language_status(catalog, scopes_)


def status_reports(content_dir: Path, locales_dir: Path, languages: Sequence[str],
                   cache_dir: Path | None, *, require_review: bool = True
                   ) -> list[LanguageStatus]:
    """Every language's status, as ``i18n status`` and the console's translator view give
    it: the answers' messages and each catalog's digest from ``cache_dir``."""
    found = cached_scopes(content_dir, cache_dir)
    return [cached_status(locales_dir, language, found, cache_dir,
                          require_review=require_review) for language in languages]


def status(
    catalog: LanguageCatalog, answers: Sequence[Answer], content_dir: Path | None = None
) -> list[StatusRow]:
    """Per answer and for the interface strings: counts and whether it may be published."""
    return list(language_status(catalog, scopes(answers, content_dir)).rows)


def by_readers(statuses: Sequence[LanguageStatus],
               readers: dict[str, int] | None) -> list[LanguageStatus]:
    """Languages ordered by how many subscribers read them, most first (then by tag)."""
    counts = readers or {}
    return sorted(statuses, key=lambda s: (-counts.get(s.language, 0), s.language))
