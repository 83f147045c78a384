"""gettext catalogs: extraction of answers into messages, and reading translations back.

One domain, ``syndicate``, holds the answers' text and the interface strings:
``locales/syndicate.pot`` is the template, ``locales/<locale>/LC_MESSAGES/syndicate.po`` a
language. Answer messages carry ``msgctxt`` = the answer's id, so the same sentence in two
answers can be translated differently; condition names carry ``msgctxt`` = ``condition``.

Completeness is computed here, not with Babel's statistics (they count fuzzy entries as
translated): a message is *usable* only if it is translated, not fuzzy, and passes
:mod:`syndicate.checks`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gettext
import io
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po

from . import checks
from .content import Answer, parse_answer
from .errors import CatalogError

DOMAIN = "syndicate"
CONDITION_CONTEXT = "condition"

Key = tuple[str | None, str]
"""A message key: (msgctxt, msgid)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SourceMessage:
    """A message as extracted from an answer."""

    context: str
    text: str
    line: int
    comments: tuple[str, ...]


def answer_messages(answer: Answer) -> Iterator[SourceMessage]:
    """Every message of an answer: its condition name, question, and every block."""
    about = f"Answer: {answer.question}"
    yield SourceMessage(
        CONDITION_CONTEXT,
        answer.condition,
        answer.condition_line,
        ("Name of a health condition, as used in titles and sentences.",),
    )
    yield SourceMessage(answer.id, answer.question, answer.question_line, (about, "Section: title"))
    kinds = {"heading": "heading", "paragraph": "paragraph", "item": "list item"}
    for block in answer.blocks:
        section = block.section or "short answer"
        yield SourceMessage(
            answer.id,
            block.text,
            block.line,
            (about, f"Section: {section} ({kinds[block.kind]})"),
        )


def message_keys(answer: Answer) -> list[Key]:
    """Keys of every message an answer needs translated, without repeats, in order."""
    return list(dict.fromkeys((m.context, m.text) for m in answer_messages(answer)))


def extract_answers(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Any,
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Babel extractor for answer files (entry point ``syndicate_answers``).

    Yields ``pgettext``-shaped results so Babel sets ``msgctxt``. A file that does not
    validate is skipped with its problems written to stderr (``syndicate validate`` says more).
    """
    del keywords, comment_tags, options
    name = str(getattr(fileobj, "name", "<answer>"))
    answer, problems = parse_answer(fileobj.read(), name)
    if answer is None:
        for problem in problems:
            print(f"{problem} (not extracted)", file=sys.stderr)
        return
    if answer.status != "published":
        return
    for message in answer_messages(answer):
        yield message.line, "pgettext", (message.context, message.text), list(message.comments)


# -- languages -------------------------------------------------------------------------------


def bcp47(locale_dir_name: str) -> str:
    """BCP 47 tag of a gettext locale name: ``zh_Hans`` -> ``zh-Hans``, ``pt_BR`` -> ``pt-BR``."""
    return locale_dir_name.replace("_", "-")


def gettext_name(language: str) -> str:
    """gettext locale name of a BCP 47 tag: ``zh-Hans`` -> ``zh_Hans``."""
    return language.replace("-", "_")


_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def babel_locale(language: str) -> Locale:
    """The Babel locale of a language tag, or :class:`CatalogError` if unknown."""
    if not _LANGUAGE.match(language):
        raise CatalogError(f"{language!r} is not a language tag", path=language)
    try:
        return Locale.parse(gettext_name(language))
    except (UnknownLocaleError, ValueError) as exc:
        raise CatalogError(f"unknown language {language!r}", path=language) from exc


def catalog_path(locales_dir: Path, language: str) -> Path:
    """Where the catalog of ``language`` lives."""
    return locales_dir / gettext_name(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


def template_path(locales_dir: Path) -> Path:
    """Where the template (``.pot``) lives."""
    return locales_dir / f"{DOMAIN}.pot"


def discover_languages(locales_dir: Path) -> list[str]:
    """BCP 47 tags of every language that has a catalog, sorted."""
    found = []
    for po in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        name = po.parent.parent.name
        if _LANGUAGE.match(name):
            found.append(bcp47(name))
    return found


# -- reading catalogs ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One message of a catalog, as the translator left it."""

    key: Key
    strings: tuple[str, ...]
    """``(msgstr,)`` or the plural forms ``msgstr[0..n]``."""
    source: tuple[str, ...]
    """``(msgid,)`` or ``(msgid, msgid_plural)``."""
    line: int
    fuzzy: bool
    problems: tuple[str, ...]
    """What :mod:`syndicate.checks` found wrong (empty when fine)."""

    @property
    def translated(self) -> bool:
        """Every form has a non-empty translation."""
        return bool(self.strings) and all(self.strings)

    @property
    def usable(self) -> bool:
        """Translated, not fuzzy and passing the checks: may be published."""
        return self.translated and not self.fuzzy and not self.problems


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageCatalog:
    """The translations of one language, read from its ``.po`` file."""

    language: str
    locale: Locale
    path: str
    entries: Mapping[Key, Entry]
    plural_count: int
    plural: Callable[[int], int]
    revised: dt.datetime | None
    """``PO-Revision-Date`` of the file (UTC), if the translator's tool set one."""

    def usable(self, key: Key) -> str | tuple[str, ...] | None:
        """The translation of ``key`` if it may be published, else ``None``."""
        entry = self.entries.get(key)
        if entry is None or not entry.usable:
            return None
        return entry.strings[0] if len(entry.source) == 1 else entry.strings

    def why_not(self, key: Key) -> str:
        """Why ``key`` is not usable, in a few words."""
        entry = self.entries.get(key)
        if entry is None:
            return "missing from the catalog"
        if not entry.translated:
            return "untranslated"
        if entry.fuzzy:
            return "fuzzy"
        return "; ".join(entry.problems)


_REVISION = re.compile(r'^"PO-Revision-Date: *([^\\"]*)', re.M)


def _revision_date(text: str) -> dt.datetime | None:
    """Parse ``PO-Revision-Date`` ourselves: Babel substitutes *now* when it is a placeholder."""
    match = _REVISION.search(text[:8192])
    if not match:
        return None
    value = match.group(1).strip()
    for fmt in ("%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return dt.datetime.strptime(value, fmt).astimezone(dt.UTC)
        except ValueError:
            continue
    return None


def _read(path: Path, language: str) -> tuple[Catalog, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogError(
            f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            path=str(path),
            line=line,
        ) from exc
    try:
        catalog = read_po(
            io.StringIO(text), locale=gettext_name(language), domain=DOMAIN, abort_invalid=True
        )
    except PoFileError as exc:
        line = getattr(exc, "lineno", 0)
        raise CatalogError(f"malformed catalog: {exc}", path=str(path), line=line) from exc
    except (ValueError, UnknownLocaleError) as exc:
        raise CatalogError(f"malformed catalog: {exc}", path=str(path)) from exc
    return catalog, text


def _plural_rule(catalog: Catalog, path: Path) -> tuple[int, Callable[[int], int]]:
    try:
        count = int(catalog.num_plurals)
        rule = gettext.c2py(catalog.plural_expr)  # type: ignore[attr-defined,unused-ignore]
    except (ValueError, SyntaxError) as exc:
        raise CatalogError(f"invalid Plural-Forms header: {exc}", path=str(path)) from exc
    return count, rule


def read_catalog(path: Path, language: str) -> LanguageCatalog:
    """Read and check the catalog at ``path``; :class:`CatalogError` if it cannot be used."""
    locale = babel_locale(language)
    catalog, text = _read(path, language)
    plural_count, plural = _plural_rule(catalog, path)
    entries: dict[Key, Entry] = {}
    for message in catalog:
        if not message.id:
            continue
        source = tuple(message.id) if isinstance(message.id, list | tuple) else (message.id,)
        if isinstance(message.string, list | tuple):
            strings = tuple(s or "" for s in message.string)
        else:
            strings = (message.string or "",)
        line = int(message.lineno or 0)
        problems: tuple[str, ...] = ()
        if all(strings) and strings:
            problems = tuple(
                checks.check_message(source, strings, locale=locale, plural_count=plural_count)
            )
        key: Key = (message.context, source[0])
        entries[key] = Entry(key, strings, source, line, message.fuzzy, problems)
    return LanguageCatalog(
        language=language,
        locale=locale,
        path=str(path),
        entries=entries,
        plural_count=plural_count,
        plural=plural,
        revised=_revision_date(text),
    )
