"""gettext catalogs: extraction of answers into messages, and reading translations back.

One domain, ``syndicate``, holds the answers' text and the interface strings:
``locales/syndicate.pot`` is the template, ``locales/<locale>/LC_MESSAGES/syndicate.po`` a
language. Answer messages carry ``msgctxt`` = the answer's id, so the same sentence in two
answers can be translated differently; condition names carry ``msgctxt`` = ``condition``.

Completeness is computed here, not with Babel's statistics (they count fuzzy entries as
translated): a message is *usable* only if it is translated, not fuzzy, and passes
:mod:`syndicate.answers.checks`. The files themselves are read by the strict reader of :mod:`._po`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gettext
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural

from ..errors import CatalogError
from ..tags import bcp47, check_language_tag, gettext_name, is_language_tag
from . import checks
from ._po import DOMAIN as DOMAIN
from ._po import (
    PoMessages,
    PoSyntax,
    babel_read,
    header_line,
    read_messages,
    read_strict,
    revision_date,
)
from .clinical import COPIED, carries_dose, copied_source
from .content import Answer, parse_answer
from .provenance import EXAMPLE, TranslationReview, read_reviews

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


def babel_locale(language: str) -> Locale:
    """The Babel locale of a language tag, or :class:`CatalogError` if unknown."""
    check_language_tag(language)
    try:
        return Locale.parse(gettext_name(language))
    except (UnknownLocaleError, ValueError) as exc:
        raise CatalogError(f"unknown language {language!r}", path=language) from exc


def catalog_path(locales_dir: Path, language: str) -> Path:
    """Where the catalog of ``language`` lives; :class:`CatalogError` if it is not a tag."""
    check_language_tag(language)
    return locales_dir / gettext_name(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


def template_path(locales_dir: Path) -> Path:
    """Where the template (``.pot``) lives."""
    return locales_dir / f"{DOMAIN}.pot"


def discover_languages(locales_dir: Path) -> list[str]:
    """BCP 47 tags of every language that has a catalog, sorted."""
    found = []
    for po in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        name = po.parent.parent.name
        if is_language_tag(name):
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
    """What :mod:`syndicate.answers.checks` found wrong (empty when fine)."""

    @property
    def translated(self) -> bool:
        """Every form has a non-empty translation, not a copy of a long source in a language
        of another script (:data:`.clinical.COPIED`)."""
        return bool(self.strings) and all(self.strings) and COPIED not in self.problems

    @property
    def usable(self) -> bool:
        """Translated, not fuzzy and passing the checks: may be published."""
        return self.translated and not self.fuzzy and not self.problems


class CheckedMessages:
    """What the message checks found, per (source, translation, plural count) of one
    language: pure functions of those, so a message seen before is not checked again.

    ``known`` is what an earlier reading found (loaded from a cache keyed by the checking
    code); ``used`` gathers the findings of this reading, the ones worth keeping."""

    def __init__(self, known: Mapping[str, list[str]] | None = None) -> None:
        self.known: Mapping[str, list[str]] = known or {}
        self.used: dict[str, list[str]] = {}

    def findings(self, source: tuple[str, ...], strings: tuple[str, ...], plural_count: int,
                 locale: Locale) -> list[str]:
        """The problems of one translated message (copied source, then the checks)."""
        key = "\x1f".join((*source, "\x1e", *strings, str(plural_count)))
        found = self.known.get(key)
        if found is None:
            found = [COPIED] if len(source) == 1 and copied_source(
                source[0], strings[0], locale) else []
            found.extend(p for p in checks.check_message(
                source, strings, locale=locale, plural_count=plural_count) if p not in found)
        self.used[key] = found
        return found


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
    reviews: Mapping[str, TranslationReview] = dataclasses.field(default_factory=dict)
    """Medical reviews of the translation, by answer id (see :mod:`.provenance`)."""
    require_review: bool = True
    """A message carrying a dose is usable only in an answer whose translation has a
    recorded medical review (setting ``require_translation_review``)."""

    def __reduce__(self) -> tuple[object, ...]:
        # Entries travel as plain tuples: pickling 20,000 slotted dataclasses one attribute
        # at a time costs more than reading them (worker processes send catalogs back), and
        # the receiving side makes an Entry only of what it looks up.
        entries = (
            self.entries.rows if isinstance(self.entries, PackedEntries) else {
                e.key: (e.strings, e.source, e.line, e.fuzzy, e.problems)
                for e in self.entries.values()
            })
        return _rebuild_catalog, (
            self.language, self.locale, self.path, entries, self.plural_count, self.plural,
            self.revised, dict(self.reviews), self.require_review,
        )

    def unreviewed_dose(self, key: Key) -> bool:
        """``key`` carries a dose and its answer's translation has no medical review while
        one is required."""
        return self.require_review and key[0] is not None and key[0] != CONDITION_CONTEXT \
            and key[0] not in self.reviews and carries_dose(key[1])

    def usable(self, key: Key) -> str | tuple[str, ...] | None:
        """The translation of ``key`` if it may be published, else ``None``."""
        entry = self.entries.get(key)
        if entry is None or not entry.usable or self.unreviewed_dose(key):
            return None
        return entry.strings[0] if len(entry.source) == 1 else entry.strings

    def why_not(self, key: Key) -> str:
        """Why ``key`` is not usable, in a few words."""
        entry = self.entries.get(key)
        if entry is None:
            return "missing from the catalog"
        if len(entry.source) > 1 and any(entry.strings) and not all(entry.strings):
            empty = ", ".join(str(i) for i, text in enumerate(entry.strings) if not text)
            return f"plural form {empty} is empty ({self.language} has {self.plural_count} forms)"
        if not entry.translated:
            return "untranslated"
        if entry.fuzzy:
            return "fuzzy"
        if entry.problems:
            return "; ".join(entry.problems)
        return ("carries a dose: needs a recorded medical review of this answer's translation "
                f"({EXAMPLE!r} on the answer's title)")


EntryRow = tuple[tuple[str, ...], tuple[str, ...], int, bool, tuple[str, ...]]
"""An :class:`Entry` without its key, as a plain tuple."""


class PackedEntries(Mapping[Key, Entry]):
    """Catalog entries kept as plain tuples; each becomes an :class:`Entry` when looked up.

    What a catalog sent back by a worker process holds: localization has already used every
    entry there, the receiver looks up only a few (interface strings).
    """

    __slots__ = ("_made", "rows")

    def __init__(self, rows: dict[Key, EntryRow]) -> None:
        self.rows = rows
        self._made: dict[Key, Entry] = {}

    def __getitem__(self, key: Key) -> Entry:
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = Entry(key, *self.rows[key])
        return made

    def get(self, key: Key, default: Any = None) -> Any:
        """The entry of ``key``, or ``default``."""
        return self[key] if key in self.rows else default

    def __iter__(self) -> Iterator[Key]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def interface_catalog(catalog: LanguageCatalog, answer_ids: Collection[str]) -> LanguageCatalog:
    """``catalog`` without the messages of the answers ``answer_ids`` (msgctxt = the id).

    Once those answers are localized, only the rest is looked up (interface strings, to
    date a stale rendition): a catalog kept for publication holds a hundredth of the entries.
    """
    ids = answer_ids if isinstance(answer_ids, set | frozenset) else set(answer_ids)
    entries = catalog.entries
    kept: Mapping[Key, Entry]
    if isinstance(entries, PackedEntries):
        kept = PackedEntries({key: row for key, row in entries.rows.items() if key[0] not in ids})
    else:
        kept = {key: entry for key, entry in entries.items() if key[0] not in ids}
    return dataclasses.replace(catalog, entries=kept)


def _rebuild_catalog(
    language: str,
    locale: Locale,
    path: str,
    entries: dict[Key, EntryRow],
    plural_count: int,
    plural: Callable[[int], int],
    revised: dt.datetime | None,
    reviews: dict[str, TranslationReview],
    require_review: bool,
) -> LanguageCatalog:
    return LanguageCatalog(
        language, locale, path, PackedEntries(entries), plural_count, plural, revised,
        reviews, require_review,
    )


def expected_plural_count(locale: Locale) -> int:
    """How many plural forms CLDR (through Babel) gives ``locale``."""
    return int(get_plural(locale).num_plurals)


def cldr_plural_forms(locale: Locale) -> str:
    """CLDR's rule for ``locale`` (through Babel) as a ``Plural-Forms`` value."""
    return str(get_plural(locale).plural_forms)


class PluralRule:
    """The ``plural=`` expression of a catalog as a function of ``n``.

    Unlike the function :func:`gettext.c2py` returns, it can be pickled (it is rebuilt from
    the expression), so a catalog read in a worker process can be sent back.
    """

    __slots__ = ("_rule", "expression")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._rule: Callable[[int], int] = gettext.c2py(expression)

    def __call__(self, n: int) -> int:
        return self._rule(n)

    def __reduce__(self) -> tuple[type[PluralRule], tuple[str]]:
        return PluralRule, (self.expression,)


PLURAL_SAMPLES = (*range(1001), 10_000, 100_000, 1_000_000, 1_000_001, 10**9, 2**31 - 1,
                  2**32, 10**12, 2**63 - 1)
"""The counts a catalog's plural rule is tried on when it is read (as ``msgfmt`` tries its
rule): any count a feed may show, and large ones where rules on ``n % 1000000`` turn."""
MAX_PLURAL_FORMS = 6
"""No language has more (CLDR: zero, one, two, few, many, other)."""
MAX_PLURAL_EXPRESSION = 300
"""Characters: the longest rule gettext ships (Slovenian, Arabic) is under 120."""


def _plural_rule(
    catalog: Catalog | PoMessages, path: Path, text: str, locale: Locale
) -> tuple[int, Callable[[int], int]]:
    """The catalog's plural rule, tried on :data:`PLURAL_SAMPLES`; refused with the line of
    its ``Plural-Forms`` header if it cannot be read, raises, is absurdly complex or picks a
    form the catalog does not have."""
    line = header_line(text, "Plural-Forms")
    expected = f'; expected a line like "Plural-Forms: {cldr_plural_forms(locale)}\\n"'
    try:
        count = int(catalog.num_plurals)
        expression = str(catalog.plural_expr)
        if len(expression) > MAX_PLURAL_EXPRESSION:
            raise ValueError(f"plural expression longer than {MAX_PLURAL_EXPRESSION} characters")
        rule = PluralRule(expression)
    except (ValueError, SyntaxError, RecursionError, MemoryError) as exc:
        raise CatalogError(f"invalid Plural-Forms header: {exc}{expected}", path=str(path),
                           line=line) from exc
    if not 1 <= count <= MAX_PLURAL_FORMS:
        raise CatalogError(
            f"invalid Plural-Forms header: nplurals={count} (a language has 1 to "
            f"{MAX_PLURAL_FORMS} forms){expected}", path=str(path), line=line)
    problem = plural_rule_problem(rule, count)
    if problem:
        raise CatalogError(
            f"invalid Plural-Forms header: plural={expression} {problem}{expected}",
            path=str(path), line=line)
    return count, rule


def same_plural_rule(catalog: LanguageCatalog, plural_forms: str) -> bool:
    """Whether the catalog's rule picks the same form as ``plural_forms`` for every sample."""
    count, _, expression = plural_forms.partition(";")
    expression = expression.strip().removeprefix("plural=").rstrip(";")
    if int(count.partition("=")[2]) != catalog.plural_count:
        return False
    other = PluralRule(expression)
    return all(catalog.plural(n) == other(n) for n in PLURAL_SAMPLES)


def plural_rule_problem(rule: Callable[[int], int], count: int) -> str | None:
    """What is wrong with ``rule`` for a catalog of ``count`` forms, tried on every sample."""
    for n in PLURAL_SAMPLES:
        try:
            index = rule(n)
        except (ArithmeticError, RecursionError, ValueError, TypeError) as exc:
            name = "division by zero" if isinstance(exc, ZeroDivisionError) else type(
                exc).__name__
            return f"fails for n={n} ({name})"
        if not isinstance(index, int) or not 0 <= index < count:
            return f"gives form {index} for n={n}, but nplurals={count}"
    return None


def read_catalog(path: Path, language: str, *, require_review: bool = True,
                 checked: CheckedMessages | None = None,
                 data: bytes | None = None) -> LanguageCatalog:
    """Read and check the catalog at ``path``; :class:`CatalogError` if it cannot be used.

    ``require_review``: see :attr:`LanguageCatalog.require_review`. ``checked``: the checks'
    findings for messages already checked (a catalog saved again is checked only where its
    messages changed); it is filled with this catalog's. ``data``: the file's bytes, if the
    caller read them already (so that a digest of them is the digest of what was checked)."""
    locale = babel_locale(language)
    text, syntax = read_strict(path, data)
    catalog: Catalog | PoMessages | None = read_messages(text, syntax, language, path)
    if catalog is None:
        catalog = babel_read(text, language, path)
    return language_catalog(catalog, text, syntax, path=path, language=language, locale=locale,
                            require_review=require_review, checked=checked)


def language_catalog(
    catalog: Catalog | PoMessages,
    text: str,
    syntax: PoSyntax,
    *,
    path: Path,
    language: str,
    locale: Locale,
    require_review: bool = True,
    checked: CheckedMessages | None = None,
) -> LanguageCatalog:
    """Check every entry of a parsed catalog (see :func:`._po.load_po`) and index it by key."""
    memo = checked if checked is not None else CheckedMessages()
    plural_count, plural = _plural_rule(catalog, path, text, locale)
    revised = revision_date(text)
    reviews, review_problems = read_reviews(text, revised)
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
        problems: list[str] = []
        if len(source) > 1:
            written = syntax.plural_forms.get(line, len(strings))
            if written != plural_count:
                problems.append(
                    f"plural has {written} forms, {locale} needs exactly {plural_count}")
        if all(strings) and strings:
            found = memo.findings(source, strings, plural_count, locale)
            problems.extend(p for p in found if p not in problems)
        problems.extend(review_problems.get(line, ()))
        key: Key = (message.context, source[0])
        entries[key] = Entry(key, strings, source, line, message.fuzzy, tuple(problems))
    return LanguageCatalog(
        language=language,
        locale=locale,
        path=str(path),
        entries=entries,
        plural_count=plural_count,
        plural=plural,
        revised=revised,
        reviews=reviews,
        require_review=require_review,
    )
