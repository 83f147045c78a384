"""The strict ``.po`` reader: every catalog is read once, checked line by line.

Hand-written on purpose. Babel's reader is lenient: an unterminated string, a ``msgid``
without ``msgstr`` or a duplicate message pass silently, while gettext's ``msgfmt`` rejects
them; so a strict pass over the lines comes first, and reports them with the line. That pass
also splits every message into its quoted strings, and the messages are built from those
(with Babel's own ``unescape``) rather than by reading the file a second time with Babel:
reading each file once is what made localization fast (see ``docs/benchmarks.md``). Babel's
reader still reads the header, and the whole file whenever its reading is one only Babel
defines (:attr:`PoSyntax.babel_only`).

Below :mod:`.catalogs`, which turns what is read here into checked entries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from babel import UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po, unescape

from ..errors import CatalogError
from ..tags import gettext_name

DOMAIN = "syndicate"
"""The one gettext domain: answers' text and interface strings (see :mod:`.catalogs`)."""

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
    return _PoScanner(_BABEL_ONLY_BREAKS.search(text) is not None).scan(text)


class _PoScanner:
    """The strict pass over one file: what it carries from one line to the next.

    ``state`` is the part of a message read last: ``start`` (between messages), ``msgctxt``,
    ``msgid``, ``msgid_plural``, ``msgstr`` or ``msgstr[N]``. Each part is a list of quoted
    strings, and ``current`` is the very list a following ``"..."`` line continues. What
    Babel's reader would make of each message (see :class:`RawMessage`) is kept alongside
    the checks, so the file need not be read again.
    """

    __slots__ = (
        "babel_only", "context", "current", "entry_line", "errors", "fuzzy", "has_context",
        "header_end", "messages", "msgid", "next_form", "plural", "plural_forms", "seen",
        "state", "strings",
    )

    def __init__(self, babel_only: bool) -> None:
        self.errors: list[tuple[int, str]] = []
        self.plural_forms: dict[int, int] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.state = "start"
        self.entry_line = 0
        self.next_form = 0
        self.context: list[str] = []
        self.msgid: list[str] = []
        self.current: list[str] = []
        self.messages: list[RawMessage] = []
        self.has_context = False
        self.plural: list[str] | None = None
        self.strings: list[tuple[int, list[str]]] = []
        self.fuzzy = False
        self.header_end = 0
        self.babel_only = babel_only

    def scan(self, text: str) -> PoSyntax:
        """Read every line of ``text``, then end the last message."""
        errors, quoted = self.errors, _QUOTED.fullmatch
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line[0] == "#":
                if self.state != "start":
                    self._finish(number)  # a blank or comment line ends the message
                if line.startswith("#,"):
                    self._flags(line)
                elif line.startswith(("#|", "#~")):
                    self._commented_entry(number, line)
                elif line.startswith("#-") or (
                        line.startswith("#:") and ("\u2068" in line or "\u2069" in line)):
                    self.babel_only = True
            elif line[0] != '"':
                self._keyword(number, line)
            elif self.state == "start":
                errors.append((number, "string outside of a message"))
            elif not quoted(line):
                errors.append((number, "unterminated or badly quoted string"))
            else:
                self.current.append(line)
        self._finish(0)
        if errors:
            return PoSyntax(tuple(errors), self.plural_forms)
        return PoSyntax(
            tuple(errors), self.plural_forms, tuple(self.messages), self.header_end,
            self.babel_only,
        )

    def _commented_entry(self, number: int, line: str) -> None:
        """A previous (``#|``) or obsolete (``#~``) line: gettext parses both, so they must be
        well formed too (``msgfmt`` stops at an unterminated string there)."""
        rest = line[2:].lstrip()
        if line.startswith("#~"):
            self.babel_only = True
            rest = rest[1:].lstrip() if rest.startswith("|") else rest
        kind = line[:2]
        if not rest:
            return
        if rest[0] == '"':
            if not _QUOTED.fullmatch(rest):
                self.errors.append((number, f"{kind} line: unterminated or badly quoted string"))
            return
        match = _KEYWORD_LINE.match(rest)
        if not match:
            self.errors.append((number, f"{kind} line: unknown keyword {rest.split()[0]!r}"))
        elif not _QUOTED.fullmatch(match.group(3).strip()):
            self.errors.append(
                (number, f"{kind} {match.group(1)}: unterminated or badly quoted string"))

    def _flags(self, line: str) -> None:
        """A ``#,`` line, as Babel reads flags: they apply to the next message."""
        self.fuzzy = self.fuzzy or "fuzzy" in {
            flag.strip() for flag in line[2:].lstrip().split(",")}

    def _keyword(self, number: int, line: str) -> None:
        """A ``msgctxt``/``msgid``/``msgid_plural``/``msgstr``/``msgstr[N]`` line."""
        match = _KEYWORD_LINE.match(line)
        if not match:
            self.errors.append((number, f"unknown keyword {line.split()[0]!r}"))
            return
        keyword, index, rest = match.group(1), match.group(2), match.group(3).strip()
        if line[len(keyword):len(keyword) + 1] != " ":
            self.babel_only = True  # Babel splits the keyword off at the first space only
        if not _QUOTED.fullmatch(rest):
            self.errors.append((number, f"{keyword}: unterminated or badly quoted string"))
        kind = "msgstr[N]" if index is not None else keyword
        if kind in {"msgctxt", "msgid"} and self.state in {"msgstr", "msgstr[N]"}:
            self._finish(number)
        if not self._open(kind, number, index):
            self.errors.append((number, f"{keyword} not expected here"))
        self.current.append(rest)
        self.state = kind

    def _open(self, kind: str, number: int, index: str | None) -> bool:
        """Start the part ``kind`` at line ``number``; whether it may come after ``state``.

        The part is started either way, so the lines after a misplaced one are checked too.
        """
        if kind == "msgctxt":
            return self._open_context(number)
        if kind == "msgid":
            return self._open_msgid(number)
        if kind == "msgid_plural":
            ok = self.state == "msgid"
            self.next_form = 0
            self.current = self.plural = []
            return ok
        if kind == "msgstr":
            ok = self.state == "msgid"
            self._open_form(0)
            return ok
        return self._open_plural_form(int(index or 0))

    def _open_context(self, number: int) -> bool:
        ok = self.state == "start"
        self.entry_line, self.context, self.msgid = number, [], []
        self.current = self.context
        self.has_context, self.plural, self.strings = True, None, []
        return ok

    def _open_msgid(self, number: int) -> bool:
        ok = self.state in {"start", "msgctxt"}
        if self.state == "start":
            self.entry_line, self.context = number, []
            self.has_context, self.plural, self.strings = False, None, []
        self.current = self.msgid = []
        if ok:
            self.entry_line = number
        return ok

    def _open_plural_form(self, index: int) -> bool:
        ok = self.state in {"msgid_plural", "msgstr[N]"} and index == self.next_form
        if ok:
            self.next_form += 1
            self.plural_forms[self.entry_line] = self.next_form
        self._open_form(index)
        return ok

    def _open_form(self, index: int) -> None:
        self.current = []
        self.strings.append((index, self.current))

    def _finish(self, line: int) -> None:
        """End the message being read; ``line`` ended it (0: the end of the file)."""
        if self.state in {"msgctxt", "msgid", "msgid_plural"}:
            self.errors.append((self.entry_line, "message has no msgstr"))
        elif self.state in {"msgstr", "msgstr[N]"}:
            self._record(line)
        self.state = "start"

    def _record(self, line: int) -> None:
        """Keep a complete message, or report it as a duplicate of an earlier one."""
        key = ("".join(self.context), "".join(self.msgid))
        if key in self.seen and key[1]:
            self.errors.append(
                (self.entry_line, f"duplicate of the message at line {self.seen[key]}"))
        else:
            self.seen.setdefault(key, self.entry_line)
        if not self.messages:
            self.header_end = line - 1 if line else 0
        self.messages.append(RawMessage(
            self.entry_line, tuple(self.context) if self.has_context else None,
            tuple(self.msgid), tuple(self.plural) if self.plural is not None else None,
            tuple((index, tuple(parts)) for index, parts in self.strings), self.fuzzy,
        ))
        self.fuzzy = False


def read_strict(path: Path, data: bytes | None = None) -> tuple[str, PoSyntax]:
    """The text of a ``.po`` file and its strict pass; :class:`CatalogError` if malformed.

    ``data``: the file's bytes, when the caller has read them already (to know the digest
    of exactly what is checked)."""
    if data is None:
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


def babel_read(text: str, language: str, path: Path) -> Catalog:
    """``text`` read by Babel's reader; its failures as :class:`CatalogError` with the line."""
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
        line = header_line(text, "Plural-Forms" if "int()" in str(exc) else "")
        raise CatalogError(f"malformed catalog: {exc}", path=str(path), line=line) from exc
    return catalog


def load_po(path: Path, language: str) -> tuple[Catalog, str, PoSyntax]:
    """Read a ``.po`` file strictly: :class:`CatalogError` with the line if it is unusable."""
    text, syntax = read_strict(path)
    return babel_read(text, language, path), text, syntax


class PoMessage(NamedTuple):
    """The parts of a Babel message that :func:`.catalogs.language_catalog` reads."""

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
    header = babel_read(_header_text(text, syntax.header_end), language, path)
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
            string = _plural_strings(raw, num_plurals, path)
        messages.append(PoMessage(ident, string, context, raw.line, raw.fuzzy))
    return PoMessages(num_plurals, str(header.plural_expr), tuple(messages))


def _header_text(text: str, header_end: int) -> str:
    """The part of ``text`` Babel reads for the header (see :attr:`PoSyntax.header_end`)."""
    if not header_end:
        return text
    # Babel adds the header (and reads Plural-Forms, which may fail) at the next non-blank
    # line; a comment there reports the failure at its own line.
    lines = text.split("\n")
    end = after = header_end
    while after < len(lines) and not lines[after].strip():
        after += 1
    if after < len(lines) and lines[after].strip().startswith("#"):
        end = after + 1
    return "\n".join(lines[:end])


def _plural_strings(raw: RawMessage, num_plurals: int, path: Path) -> tuple[str, ...]:
    """The ``msgstr[N]`` of a plural message, ``num_plurals`` of them as Babel fills them."""
    if num_plurals < 1:  # the header is refused by the catalog's reader, with its line
        return tuple(_join(parts) for _, parts in raw.strings)
    forms = [""] * num_plurals
    for index, parts in raw.strings:
        if index >= num_plurals:
            raise CatalogError(
                "malformed catalog: plural has more forms than the Plural-Forms "
                "header allows", path=str(path), line=raw.line)
        forms[index] = _join(parts)
    return tuple(forms)


def header_line(text: str, field: str) -> int:
    """Line of the header ``field`` (``"Plural-Forms: ...``), else of the header entry."""
    match = re.search(rf'^[ \t]*"{re.escape(field)}:', text, re.M) if field else None
    match = match or re.search(r'^[ \t]*msgid[ \t]+""[ \t]*$', text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else 1


_REVISION = re.compile(r'^"PO-Revision-Date: *([^\\"]*)', re.M)


def revision_date(text: str) -> dt.datetime | None:
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
