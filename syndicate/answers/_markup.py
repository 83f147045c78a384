"""An answer file's two markups, read: the YAML front matter into fields, the Markdown body
into blocks.

Only the syntax is decided here, and where each thing is, to the line: the ``---`` lines
around the front matter, its ``key: value`` scalars, how a date is written; the body cut
into headings, paragraphs and list items, refusing what cannot be translated as one message
(code, raw HTML, quotes, nested lists). What an answer must say (which keys, which values, a
short answer first) is :mod:`.content`'s. Problems go to a :class:`Reporter`, in the order
they are found.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Literal, Protocol

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

BlockKind = Literal["heading", "paragraph", "item"]
Fields = dict[str, tuple[str, int]]
"""Front matter as ``{key: (raw scalar text, line)}``."""

_FRONT_MATTER = "---"
_LIST_INTRO = re.compile(r"(?:include|includes|including|are|following|these)\s*:\s*$", re.I)


class Reporter(Protocol):
    """Where problems go, located to the line (the collector of :func:`.content.parse_answer`)."""

    def error(self, line: int, field: str, reason: str) -> None:
        """A problem that makes the file unusable."""

    def warning(self, line: int, field: str, reason: str) -> None:
        """A problem worth fixing that does not stop publication."""


@dataclasses.dataclass(frozen=True, slots=True)
class Block:
    """One translatable unit of an answer body: a heading, a paragraph or a list item."""

    kind: BlockKind
    text: str
    """Inline Markdown, soft line breaks folded into spaces."""
    line: int
    """1-based line of the block in the answer file."""
    section: str
    """Text of the heading of the section holding the block; empty for the short answer."""
    level: int = 0
    """Heading level (2-6) for headings, 0 otherwise."""
    group: int = 0
    """For list items: the number of the list in the body (items of one list share it)."""
    ordered: bool = False
    """For list items: whether the list is numbered."""

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled as the constructor's arguments: two to three times faster than the default
        # for a slotted dataclass, and the localization cache and the worker processes
        # pickle tens of thousands of them.
        return (type(self), tuple(getattr(self, name) for name in _BLOCK_FIELDS))


_BLOCK_FIELDS = tuple(field.name for field in dataclasses.fields(Block))


# -- front matter ----------------------------------------------------------------------------


def split_front_matter(text: str, out: Reporter) -> tuple[str, str, int] | None:
    """Return (front matter, body, line of the body's first line)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != _FRONT_MATTER:
        out.error(1, "front matter", "missing: the file must start with a '---' line")
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() == _FRONT_MATTER:
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    out.error(1, "front matter", "not closed: no second '---' line")
    return None


_CLOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
"""libyaml's loader, when PyYAML was built with it: ten times faster than the pure one."""
_SIMPLE_FRONT = re.compile(
    r"(?:[A-Za-z_][A-Za-z0-9_]*:(?: +[A-Za-z0-9(\u00a0-\u2027\u202a-\ud7ff]"
    r"(?:[^\t\n#:\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]|:(?=[^\s:]))*)?"
    r" *\n?)*"
)
"""Front matter the two loaders read alike: ``key: value`` lines whose value starts with a
letter, digit or parenthesis and holds no ``#``, tab or ``:`` but inside a word
(``https://...``). Anything else (block scalars,
quotes, flow collections, comments, unusual characters) goes to the pure loader."""


def _compose(source: str) -> yaml.Node | None:
    """``yaml.compose`` with libyaml when it gives the same answer as the pure loader.

    Anything libyaml refuses is composed again by the pure loader, so errors (and their
    wording and lines) are exactly the pure loader's.
    """
    if _CLOADER is not None and _SIMPLE_FRONT.fullmatch(source) is not None:
        try:
            return yaml.compose(source, Loader=_CLOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(source, Loader=yaml.SafeLoader)


def front_matter_fields(source: str, first_line: int, out: Reporter) -> Fields | None:
    """Parse the YAML front matter into ``{key: (raw scalar text, line)}``."""
    try:
        node = _compose(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + (mark.line if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc)
        out.error(line, "front matter", f"invalid YAML: {problem}")
        return None
    if node is None:
        out.error(first_line, "front matter", "empty")
        return None
    if not isinstance(node, yaml.MappingNode):
        out.error(first_line, "front matter", "must be a mapping of 'key: value' lines")
        return None
    fields: Fields = {}
    for key_node, value_node in node.value:
        line = first_line + key_node.start_mark.line
        key = str(key_node.value)
        if not isinstance(value_node, yaml.ScalarNode):
            out.error(line, key, "must be a single value, not a list or mapping")
            continue
        if key in fields:
            out.error(line, key, f"given twice (first on line {fields[key][1]})")
            continue
        fields[key] = (str(value_node.value).strip(), line)
    return fields


def parse_date(value: str, line: int, field: str, out: Reporter) -> dt.date | None:
    """A ``YYYY-MM-DD`` date; ``None``, reported, if it is not one or is impossible."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        out.error(line, field, f"unparseable date {value!r} (expected YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        out.error(line, field, f"impossible date {value!r}")
        return None


def parse_datetime(value: str, line: int, field: str, out: Reporter) -> dt.datetime | None:
    """An ISO 8601 date-time with its time zone, in UTC; ``None``, reported, if not one."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        out.error(line, field, f"unparseable date-time {value!r} (expected ISO 8601)")
        return None
    if parsed.tzinfo is None:
        out.error(line, field, f"date-time {value!r} has no time zone (add Z or +hh:mm)")
        return None
    return parsed.astimezone(dt.UTC)


# -- body ------------------------------------------------------------------------------------


_MARKDOWN = MarkdownIt("commonmark").disable("inline")
"""The block parser only: a block's text is its inline token's ``content`` (the raw source),
which the block phase fills in; the inline phase (children tokens, nearly half the parse)
would be thrown away. Rendering parses each text's inline Markdown itself (:mod:`.render`)."""


def _fold(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


_UNSUPPORTED = {
    "fence": "code blocks are not supported in answers",
    "code_block": "code blocks are not supported in answers",
    "html_block": "raw HTML is not allowed in answers",
    "blockquote_open": "block quotes are not supported in answers",
    "hr": "horizontal rules are not supported in answers",
    "table_open": "tables are not supported in answers",  # not in the commonmark preset
}
"""Block tokens an answer may not hold, and why."""


def walk_body(body: str, first_line: int, out: Reporter) -> list[Block]:
    """Cut a Markdown body into blocks, reporting what Syndicate cannot translate."""
    walker = _BodyWalker(first_line, out)
    for token in _MARKDOWN.parse(body):
        walker.step(token)
    return walker.blocks


class _BodyWalker:
    """What :func:`walk_body` carries from one token to the next.

    A heading's text comes in the ``inline`` token after ``heading_open``, so the heading
    waits in ``pending_heading``; list items remember their list (``group``, ``ordered``)
    and how many paragraphs they hold.
    """

    __slots__ = (
        "blocks", "first_line", "group", "item_paragraphs", "list_depth", "ordered", "out",
        "pending_heading", "section",
    )

    def __init__(self, first_line: int, out: Reporter) -> None:
        self.first_line = first_line
        self.out = out
        self.blocks: list[Block] = []
        self.section = ""
        self.list_depth = 0
        self.group = 0
        self.ordered = False
        self.item_paragraphs = 0
        self.pending_heading: tuple[int, int] | None = None

    def _line_of(self, token: Token) -> int:
        return self.first_line + (token.map[0] if token.map else 0)

    def step(self, token: Token) -> None:
        """Take one token of the body, in order."""
        kind = token.type
        if kind == "heading_open":
            level = int(token.tag[1])
            if level == 1:
                self.out.error(
                    self._line_of(token), "body", "use '##' headings: the question is the title")
            self.pending_heading = (level, self._line_of(token))
        elif kind in {"bullet_list_open", "ordered_list_open"}:
            self.list_depth += 1
            if self.list_depth > 1:
                self.out.error(self._line_of(token), "body", "nested lists are not supported")
            self.group += 1
            self.ordered = kind == "ordered_list_open"
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            self.list_depth -= 1
        elif kind == "list_item_open":
            self.item_paragraphs = 0
        elif kind == "inline":
            self._inline(_fold(token.content), self._line_of(token))
        elif kind in _UNSUPPORTED:
            self.out.error(self._line_of(token), "body", _UNSUPPORTED[kind])

    def _inline(self, text: str, line: int) -> None:
        """The text of a heading, a list item or a paragraph."""
        if self.pending_heading is not None:
            level, line = self.pending_heading
            self.pending_heading = None
            if not text:
                self.out.error(line, "body", "empty heading")
                return
            self.section = text
            self.blocks.append(Block("heading", text, line, self.section, level=level))
        elif self.list_depth:
            self.item_paragraphs += 1
            if self.item_paragraphs > 1:
                self.out.error(line, "body", "a list item may hold one paragraph only")
                return
            self.blocks.append(Block(
                "item", text, line, self.section, group=self.group, ordered=self.ordered))
        else:
            self.blocks.append(Block("paragraph", text, line, self.section))


def check_lists(blocks: list[Block], out: Reporter) -> None:
    """Warn when a paragraph announces a list that is not there."""
    for position, block in enumerate(blocks):
        if block.kind != "paragraph" or not _LIST_INTRO.search(block.text):
            continue
        following = blocks[position + 1] if position + 1 < len(blocks) else None
        if following is None or following.kind != "item":
            out.warning(
                block.line,
                "body",
                f"list introduced but missing: {_last_sentence(block.text)!r} "
                "is not followed by a list",
            )


def _last_sentence(text: str, limit: int = 90) -> str:
    """The last sentence of ``text``, shortened at a word boundary to about ``limit``."""
    sentence = re.split(r"(?<=[.!?][\"”’)]) |(?<=[.!?]) ", text)[-1]
    if len(sentence) <= limit:
        return sentence
    tail = sentence[-limit:]
    return "…" + tail[tail.find(" ") + 1 :]
