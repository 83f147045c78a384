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
from typing import IO, Any, NamedTuple

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import PoFileError, read_po, unescape

from ..errors import CatalogError
from ..tags import bcp47, check_language_tag, gettext_name, is_language_tag
from . import checks
from .content import Answer, parse_answer

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
            self.revised,
        )

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
        if len(entry.source) > 1 and any(entry.strings) and not all(entry.strings):
            empty = ", ".join(str(i) for i, text in enumerate(entry.strings) if not text)
            return f"plural form {empty} is empty ({self.language} has {self.plural_count} forms)"
        if not entry.translated:
            return "untranslated"
        if entry.fuzzy:
            return "fuzzy"
        return "; ".join(entry.problems)


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


def _rebuild_catalog(
    language: str,
    locale: Locale,
    path: str,
    entries: dict[Key, EntryRow],
    plural_count: int,
    plural: Callable[[int], int],
    revised: dt.datetime | None,
) -> LanguageCatalog:
    return LanguageCatalog(
        language, locale, path, PackedEntries(entries), plural_count, plural, revised,
    )


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


_KEYWORD_LINE = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s*(.*)$")
_QUOTED = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
"""A whole quoted string (use ``fullmatch``): no bare ``"`` inside, every backslash escaping a
character. Written unrolled; ``^"(?:[^"\\]|\\.)*"$`` says the same four times slower."""


@dataclasses.dataclass(frozen=True, slots=True)
class PoSyntax:
    """What a strict pass over a ``.po`` file's lines found."""

    errors: tuple[tuple[int, str], ...]
    """``(line, problem)`` for every syntax error, in file order."""
    plural_forms: Mapping[int, int]
    """For each plural entry, keyed by its ``msgid`` line: how many ``msgstr[N]`` it has."""
    messages: tuple[RawMessage, ...] = ()
    """Every message as written (quoted strings), in file order, when the file has no
    syntax errors; see :func:`read_messages`."""
    header_end: int = 0
    """Number of lines before the line that ended the first message (0: at end of file)."""
    babel_only: bool = False
    """The file has something only Babel's reader interprets (obsolete ``#~`` entries,
    conflict markers, isolates in locations, line breaks other than ``\\n``)."""


class RawMessage(NamedTuple):
    """A message as the strict pass saw it: quoted strings not yet unescaped."""

    line: int
    """Line of ``msgid`` (Babel's ``lineno``)."""
    context: tuple[str, ...] | None
    msgid: tuple[str, ...]
    plural: tuple[str, ...] | None
    strings: tuple[tuple[int, tuple[str, ...]], ...]
    """``(form index, quoted strings)``; index 0 for a plain ``msgstr``."""
    fuzzy: bool


_BABEL_ONLY_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Line breaks :meth:`str.splitlines` honours and Babel's reader (which splits on ``\\n``)
does not: with any of them the two would number lines differently."""


def po_syntax(text: str) -> PoSyntax:
    """Check the structure of a ``.po`` file line by line.

    Babel's reader is lenient: an unterminated string, a ``msgid`` without ``msgstr`` or a
    duplicate message pass silently. gettext's ``msgfmt`` rejects them, and so do we, with
    the line. Obsolete entries (``#~``) are comments here.
    """
    errors: list[tuple[int, str]] = []
    plural_forms: dict[int, int] = {}
    seen: dict[tuple[str, str], int] = {}
    state = "start"  # start, msgctxt, msgid, msgid_plural, msgstr, msgstr[N]
    entry_line = 0
    next_form = 0
    context: list[str] = []
    msgid: list[str] = []
    current: list[str] = []
    # What Babel's reader would make of each message (see RawMessage), kept alongside.
    messages: list[RawMessage] = []
    has_context = False
    plural: list[str] | None = None
    strings: list[tuple[int, list[str]]] = []
    fuzzy = False
    header_end = 0
    babel_only = _BABEL_ONLY_BREAKS.search(text) is not None

    def finish(line: int) -> None:
        nonlocal state, fuzzy, header_end
        if state in {"msgctxt", "msgid", "msgid_plural"}:
            errors.append((entry_line, "message has no msgstr"))
        elif state in {"msgstr", "msgstr[N]"}:
            key = ("".join(context), "".join(msgid))
            if key in seen and key[1]:
                errors.append((entry_line, f"duplicate of the message at line {seen[key]}"))
            else:
                seen.setdefault(key, entry_line)
            if not messages:
                header_end = line - 1 if line else 0
            messages.append(RawMessage(
                entry_line, tuple(context) if has_context else None, tuple(msgid),
                tuple(plural) if plural is not None else None,
                tuple((index, tuple(parts)) for index, parts in strings), fuzzy,
            ))
            fuzzy = False
        state = "start"

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if state != "start":
                finish(number)
            if line.startswith("#,"):
                # Babel's reading of flags; they apply to the next message.
                fuzzy = fuzzy or "fuzzy" in {
                    flag.strip() for flag in line[2:].lstrip().split(",")}
            elif line.startswith(("#~", "#-")) or (
                    line.startswith("#:") and ("\u2068" in line or "\u2069" in line)):
                babel_only = True
            continue
        if line.startswith('"'):
            if state == "start":
                errors.append((number, "string outside of a message"))
            elif not _QUOTED.fullmatch(line):
                errors.append((number, "unterminated or badly quoted string"))
            else:
                current.append(line)
            continue
        match = _KEYWORD_LINE.match(line)
        if not match:
            errors.append((number, f"unknown keyword {line.split()[0]!r}"))
            continue
        keyword, index, rest = match.group(1), match.group(2), match.group(3).strip()
        if line[len(keyword):len(keyword) + 1] != " ":
            babel_only = True  # Babel splits the keyword off at the first space only
        if not _QUOTED.fullmatch(rest):
            errors.append((number, f"{keyword}: unterminated or badly quoted string"))
        kind = "msgstr[N]" if index is not None else keyword
        if kind in {"msgctxt", "msgid"} and state in {"msgstr", "msgstr[N]"}:
            finish(number)
        if kind == "msgctxt":
            ok = state == "start"
            entry_line, context, msgid = number, [], []
            current = context
            has_context, plural, strings = True, None, []
        elif kind == "msgid":
            ok = state in {"start", "msgctxt"}
            if state == "start":
                entry_line, context = number, []
                has_context, plural, strings = False, None, []
            msgid = []
            current = msgid
            if ok:
                entry_line = number
        elif kind == "msgid_plural":
            ok = state == "msgid"
            next_form = 0
            current = plural = []
        elif kind == "msgstr":
            ok = state == "msgid"
            current = []
            strings.append((0, current))
        else:
            ok = state in {"msgid_plural", "msgstr[N]"} and int(index or 0) == next_form
            if ok:
                next_form += 1
                plural_forms[entry_line] = next_form
            current = []
            strings.append((int(index or 0), current))
        if not ok:
            errors.append((number, f"{keyword} not expected here"))
        current.append(rest)
        state = kind
    finish(0)
    if errors:
        return PoSyntax(tuple(errors), plural_forms)
    return PoSyntax(tuple(errors), plural_forms, tuple(messages), header_end, babel_only)


def _read_strict(path: Path) -> tuple[str, PoSyntax]:
    """The text of a ``.po`` file and its strict pass; :class:`CatalogError` if malformed."""
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
    syntax = po_syntax(text)
    if syntax.errors:
        line, problem = syntax.errors[0]
        more = f" (and {len(syntax.errors) - 1} more)" if len(syntax.errors) > 1 else ""
        raise CatalogError(f"malformed catalog: {problem}{more}", path=str(path), line=line)
    return text, syntax


def _babel_read(text: str, language: str, path: Path) -> Catalog:
    try:
        catalog = read_po(
            io.StringIO(text), locale=gettext_name(language), domain=DOMAIN, abort_invalid=True
        )
    except PoFileError as exc:
        # Babel counts lines from 0.
        line = int(getattr(exc, "lineno", -1)) + 1
        problem = str(exc).split(" on ")[0]
        if "more translations than num_plurals" in problem:
            problem = "plural has more forms than the Plural-Forms header allows"
        raise CatalogError(f"malformed catalog: {problem}", path=str(path), line=line) from exc
    except (ValueError, UnknownLocaleError) as exc:
        # Babel fails this way on header values (nplurals=x, Language: ...): point at them.
        line = _header_line(text, "Plural-Forms" if "int()" in str(exc) else "")
        raise CatalogError(f"malformed catalog: {exc}", path=str(path), line=line) from exc
    return catalog


def load_po(path: Path, language: str) -> tuple[Catalog, str, PoSyntax]:
    """Read a ``.po`` file strictly: :class:`CatalogError` with the line if it is unusable."""
    text, syntax = _read_strict(path)
    return _babel_read(text, language, path), text, syntax


class PoMessage(NamedTuple):
    """The parts of a Babel message that :func:`language_catalog` reads."""

    id: str | tuple[str, ...]
    string: str | tuple[str, ...]
    context: str | None
    lineno: int
    fuzzy: bool


@dataclasses.dataclass(frozen=True, slots=True)
class PoMessages:
    """A catalog's messages as Babel's reader gives them, without the header."""

    num_plurals: int
    plural_expr: str
    messages: tuple[PoMessage, ...]

    def __iter__(self) -> Iterator[PoMessage]:
        return iter(self.messages)


def _join(parts: tuple[str, ...]) -> str:
    return "".join(map(unescape, parts))


def read_messages(text: str, syntax: PoSyntax, language: str, path: Path) -> PoMessages | None:
    """The messages of a file that passed the strict pass, as Babel's reader would give them.

    The strict pass has already split every message into its quoted strings; this only
    unescapes them (with Babel's own ``unescape``), so a catalog is not parsed twice. The
    header still goes through Babel's reader (it owns the ``Plural-Forms`` and ``Language``
    semantics). Returns ``None`` for a file whose reading only Babel defines (see
    :attr:`PoSyntax.babel_only`, a header that is not the first message, a second header,
    two messages Babel would merge): the caller then reads it with Babel.
    """
    if syntax.babel_only or not syntax.messages:
        return None
    first = syntax.messages[0]
    if first.plural is not None or _join(first.msgid):
        return None
    if syntax.header_end:
        # Babel adds the header (and reads Plural-Forms, which may fail) at the next
        # non-blank line; a comment there reports the failure at its own line.
        lines = text.split("\n")
        end = after = syntax.header_end
        while after < len(lines) and not lines[after].strip():
            after += 1
        if after < len(lines) and lines[after].strip().startswith("#"):
            end = after + 1
        text = "\n".join(lines[:end])
    header = _babel_read(text, language, path)
    num_plurals = int(header.num_plurals)
    messages: list[PoMessage] = []
    keys: set[tuple[str | None, str]] = set()
    for raw in syntax.messages[1:]:
        msgid = _join(raw.msgid)
        if not msgid:
            return None  # another header: Babel would re-read the headers
        context = _join(raw.context) if raw.context is not None else None
        if (context, msgid) in keys:
            return None  # Babel merges the two
        keys.add((context, msgid))
        string: str | tuple[str, ...]
        if raw.plural is None:
            ident: str | tuple[str, ...] = msgid
            string = _join(raw.strings[0][1])
        else:
            ident = (msgid, _join(raw.plural))
            forms = [""] * num_plurals
            for index, parts in raw.strings:
                if index >= num_plurals:
                    raise CatalogError(
                        "malformed catalog: plural has more forms than the Plural-Forms "
                        "header allows", path=str(path), line=raw.line)
                forms[index] = _join(parts)
            string = tuple(forms)
        messages.append(PoMessage(ident, string, context, raw.line, raw.fuzzy))
    return PoMessages(num_plurals, str(header.plural_expr), tuple(messages))


def _header_line(text: str, field: str) -> int:
    """Line of the header ``field`` (``"Plural-Forms: ...``), else of the header entry."""
    match = re.search(rf'^[ \t]*"{re.escape(field)}:', text, re.M) if field else None
    match = match or re.search(r'^[ \t]*msgid[ \t]+""[ \t]*$', text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def expected_plural_count(locale: Locale) -> int:
    """How many plural forms CLDR (through Babel) gives ``locale``."""
    return int(get_plural(locale).num_plurals)


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


def _plural_rule(
    catalog: Catalog | PoMessages, path: Path, text: str
) -> tuple[int, Callable[[int], int]]:
    try:
        count = int(catalog.num_plurals)
        rule = PluralRule(catalog.plural_expr)
    except (ValueError, SyntaxError) as exc:
        raise CatalogError(
            f"invalid Plural-Forms header: {exc}", path=str(path),
            line=_header_line(text, "Plural-Forms"),
        ) from exc
    return count, rule


def read_catalog(path: Path, language: str) -> LanguageCatalog:
    """Read and check the catalog at ``path``; :class:`CatalogError` if it cannot be used."""
    locale = babel_locale(language)
    text, syntax = _read_strict(path)
    catalog: Catalog | PoMessages | None = read_messages(text, syntax, language, path)
    if catalog is None:
        catalog = _babel_read(text, language, path)
    return language_catalog(catalog, text, syntax, path=path, language=language, locale=locale)


def language_catalog(
    catalog: Catalog | PoMessages,
    text: str,
    syntax: PoSyntax,
    *,
    path: Path,
    language: str,
    locale: Locale,
) -> LanguageCatalog:
    """Check every entry of a parsed catalog (see :func:`load_po`) and index it by key."""
    plural_count, plural = _plural_rule(catalog, path, text)
    expected = expected_plural_count(locale)
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
            if plural_count != expected:
                problems.append(
                    f"Plural-Forms header has {plural_count} forms, {locale} needs {expected}"
                )
            elif written != plural_count:
                problems.append(f"plural has {written} forms, {locale} needs exactly {expected}")
        if all(strings) and strings:
            problems.extend(
                p
                for p in checks.check_message(
                    source, strings, locale=locale, plural_count=plural_count
                )
                if p not in problems
            )
        key: Key = (message.context, source[0])
        entries[key] = Entry(key, strings, source, line, message.fuzzy, tuple(problems))
    return LanguageCatalog(
        language=language,
        locale=locale,
        path=str(path),
        entries=entries,
        plural_count=plural_count,
        plural=plural,
        revised=_revision_date(text),
    )
