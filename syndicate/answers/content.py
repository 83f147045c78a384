"""Answers: parse and validate ``content/<condition>/<slug>.md`` files.

An answer file is YAML front matter between ``---`` lines, then a Markdown body. The text
before the first ``##`` heading is the short answer; each heading opens a section. The body is
cut into blocks (headings, paragraphs, list items): one block is one translatable message.

This module is pure: it turns bytes into values. :func:`load_corpus` is the only function that
reads files, and it never stops at the first bad file: every problem is collected as a
:class:`Problem` printed ``file:line: field: reason``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from .._pool import usable_cpus, worker_context
from ..tags import is_safe_name, slugify

Severity = Literal["error", "warning"]
BlockKind = Literal["heading", "paragraph", "item"]
Status = Literal["published", "withdrawn"]

REQUIRED = ("id", "condition", "question", "reviewed", "url")
OPTIONAL = ("review_due", "reviewed_by", "experiences", "status", "updated")
KNOWN = frozenset(REQUIRED + OPTIONAL)

_FRONT_MATTER = "---"
_LIST_INTRO = re.compile(r"(?:include|includes|including|are|following|these)\s*:\s*$", re.I)


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file, located to the line."""

    path: str
    line: int
    field: str
    reason: str
    severity: Severity = "error"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}: {self.field}: {tag}{self.reason}"

    def as_dict(self) -> dict[str, object]:
        """The problem as JSON-ready data."""
        return dataclasses.asdict(self)


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


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A medically reviewed answer, in the source language."""

    id: str
    condition: str
    """Display name of the condition, e.g. ``Lupus``."""
    condition_slug: str
    """Folder of the condition under ``content/``, e.g. ``lupus``."""
    slug: str
    question: str
    reviewed: dt.date
    url: str
    blocks: tuple[Block, ...]
    path: str
    review_due: dt.date | None = None
    reviewed_by: str | None = None
    experiences: int = 0
    status: Status = "published"
    updated: dt.datetime | None = None
    """When the text last changed without a new review (UTC); ``None`` means at the review."""
    question_line: int = 1
    condition_line: int = 1

    @property
    def short_answer(self) -> tuple[Block, ...]:
        """Blocks before the first heading."""
        return tuple(block for block in self.blocks if not block.section)

    @property
    def changed_at(self) -> dt.datetime:
        """When the source text last changed: ``updated`` or midnight UTC of ``reviewed``."""
        reviewed = dt.datetime.combine(self.reviewed, dt.time(), tzinfo=dt.UTC)
        if self.updated is None or self.updated < reviewed:
            return reviewed
        return self.updated

    @property
    def source_hash(self) -> str:
        """SHA-256 of everything published about the answer, in a canonical form."""
        data = {
            "id": self.id,
            "condition": self.condition,
            "question": self.question,
            "reviewed": self.reviewed.isoformat(),
            "review_due": self.review_due.isoformat() if self.review_due else None,
            "reviewed_by": self.reviewed_by,
            "experiences": self.experiences,
            "url": self.url,
            "status": self.status,
            "blocks": [[b.kind, b.level, b.group, b.ordered, b.text] for b in self.blocks],
        }
        canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Corpus:
    """Every answer that could be read, and every problem found on the way."""

    answers: tuple[Answer, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems that make a file unusable."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth fixing that do not stop publication."""
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def published(self) -> tuple[Answer, ...]:
        """Answers whose status is ``published``."""
        return tuple(a for a in self.answers if a.status == "published")


_MARKDOWN = MarkdownIt("commonmark")


class _Collector:
    """Problems of one file, with the file's path filled in."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, line: int, field: str, reason: str) -> None:
        self.problems.append(Problem(self.path, line, field, reason))

    def warning(self, line: int, field: str, reason: str) -> None:
        self.problems.append(Problem(self.path, line, field, reason, "warning"))

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def _fold(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _split_front_matter(text: str, out: _Collector) -> tuple[str, str, int] | None:
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


def _parse_date(value: str, line: int, field: str, out: _Collector) -> dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        out.error(line, field, f"unparseable date {value!r} (expected YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        out.error(line, field, f"impossible date {value!r}")
        return None


def _parse_datetime(value: str, line: int, field: str, out: _Collector) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        out.error(line, field, f"unparseable date-time {value!r} (expected ISO 8601)")
        return None
    if parsed.tzinfo is None:
        out.error(line, field, f"date-time {value!r} has no time zone (add Z or +hh:mm)")
        return None
    return parsed.astimezone(dt.UTC)


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


def _front_matter_fields(
    source: str, first_line: int, out: _Collector
) -> dict[str, tuple[str, int]] | None:
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
    fields: dict[str, tuple[str, int]] = {}
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


def _walk_body(body: str, first_line: int, out: _Collector) -> list[Block]:
    """Cut a Markdown body into blocks, reporting what Syndicate cannot translate."""
    tokens = _MARKDOWN.parse(body)
    blocks: list[Block] = []
    section = ""
    list_depth = 0
    group = 0
    ordered = False
    item_paragraphs = 0
    pending_heading: tuple[int, int] | None = None

    def line_of(token: Token) -> int:
        return first_line + (token.map[0] if token.map else 0)

    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "heading_open":
            level = int(token.tag[1])
            if level == 1:
                out.error(line_of(token), "body", "use '##' headings: the question is the title")
            pending_heading = (level, line_of(token))
        elif kind in {"bullet_list_open", "ordered_list_open"}:
            list_depth += 1
            if list_depth > 1:
                out.error(line_of(token), "body", "nested lists are not supported")
            group += 1
            ordered = kind == "ordered_list_open"
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            list_depth -= 1
        elif kind == "list_item_open":
            item_paragraphs = 0
        elif kind == "inline":
            text = _fold(token.content)
            line = line_of(token)
            if pending_heading is not None:
                level, line = pending_heading
                pending_heading = None
                if not text:
                    out.error(line, "body", "empty heading")
                    continue
                section = text
                blocks.append(Block("heading", text, line, section, level=level))
            elif list_depth:
                item_paragraphs += 1
                if item_paragraphs > 1:
                    out.error(line, "body", "a list item may hold one paragraph only")
                    continue
                blocks.append(Block("item", text, line, section, group=group, ordered=ordered))
            else:
                blocks.append(Block("paragraph", text, line, section))
        elif kind in {"fence", "code_block"}:
            out.error(line_of(token), "body", "code blocks are not supported in answers")
        elif kind == "html_block":
            out.error(line_of(token), "body", "raw HTML is not allowed in answers")
        elif kind == "blockquote_open":
            out.error(line_of(token), "body", "block quotes are not supported in answers")
        elif kind == "hr":
            out.error(line_of(token), "body", "horizontal rules are not supported in answers")
        elif kind == "table_open":  # pragma: no cover - commonmark preset has no tables
            out.error(line_of(token), "body", "tables are not supported in answers")
        del index
    return blocks


def _check_lists(blocks: list[Block], out: _Collector) -> None:
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


def parse_answer(data: bytes, path: str) -> tuple[Answer | None, list[Problem]]:
    """Parse one answer file. Returns the answer (``None`` if unusable) and its problems."""
    out = _Collector(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        out.error(line, "encoding", f"not UTF-8: byte 0x{byte:02x} at offset {exc.start}")
        return None, out.problems
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    if bad:
        line = text[: bad.start()].count("\n") + 1
        out.error(line, "encoding", f"control character U+{ord(bad.group()):04X} is not allowed")
        return None, out.problems
    split = _split_front_matter(text, out)
    if split is None:
        return None, out.problems
    front, body, body_line = split
    fields = _front_matter_fields(front, 2, out)
    if fields is None:
        return None, out.problems

    for key, (_, line) in fields.items():
        if key not in KNOWN:
            out.error(line, key, f"unknown key (known: {', '.join(sorted(KNOWN))})")
    for key in REQUIRED:
        if key not in fields or not fields[key][0]:
            line = fields[key][1] if key in fields else 1
            out.error(line, key, "missing required field")

    def raw(key: str) -> tuple[str, int]:
        return fields.get(key, ("", 1))

    answer_id, id_line = raw("id")
    if answer_id and not is_safe_name(answer_id):
        out.error(id_line, "id", f"{answer_id!r} must be lower-case letters, digits and hyphens")

    parts = Path(path).parts
    condition_slug = parts[-2] if len(parts) >= 2 else ""
    slug = Path(path).stem
    if not is_safe_name(condition_slug):
        out.error(1, "condition", f"folder {condition_slug!r} is not a safe condition name")
    if not is_safe_name(slug):
        out.error(1, "slug", f"file name {slug!r} must be lower-case letters, digits and hyphens")
    condition, condition_line = raw("condition")
    if condition and condition_slug and slugify(condition) != condition_slug:
        out.error(
            condition_line,
            "condition",
            f"{condition!r} belongs in folder {slugify(condition)!r}, not {condition_slug!r}",
        )

    reviewed = review_due = None
    if raw("reviewed")[0]:
        reviewed = _parse_date(*raw("reviewed"), "reviewed", out)
    if raw("review_due")[0]:
        review_due = _parse_date(*raw("review_due"), "review_due", out)
    if reviewed and review_due and review_due < reviewed:
        out.error(
            raw("review_due")[1],
            "review_due",
            f"{review_due.isoformat()} is before reviewed {reviewed.isoformat()}",
        )
    updated = None
    if raw("updated")[0]:
        updated = _parse_datetime(*raw("updated"), "updated", out)

    experiences = 0
    value, line = raw("experiences")
    if value:
        if re.fullmatch(r"\d{1,9}", value):
            experiences = int(value)
        else:
            out.error(line, "experiences", f"{value!r} is not a whole number of people")

    status_text, status_line = raw("status")
    status: Status = "published"
    if status_text == "withdrawn":
        status = "withdrawn"
    elif status_text not in {"", "published"}:
        out.error(status_line, "status", f"{status_text!r} must be 'published' or 'withdrawn'")

    url, url_line = raw("url")
    if url and not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url):
        out.error(url_line, "url", f"{url!r} is not an absolute http(s) URL")

    blocks = _walk_body(body, body_line, out)
    if not blocks:
        if status == "published":
            out.error(body_line, "body", "empty: a published answer needs a text")
    elif not any(not block.section for block in blocks):
        out.error(blocks[0].line, "body", "no short answer: text must come before the first '##'")
    _check_lists(blocks, out)

    if out.failed or reviewed is None:
        return None, out.problems
    answer = Answer(
        id=answer_id,
        condition=condition,
        condition_slug=condition_slug,
        slug=slug,
        question=raw("question")[0],
        reviewed=reviewed,
        url=url,
        blocks=tuple(blocks),
        path=path,
        review_due=review_due,
        reviewed_by=raw("reviewed_by")[0] or None,
        experiences=experiences,
        status=status,
        updated=updated,
        question_line=raw("question")[1],
        condition_line=condition_line,
    )
    return answer, out.problems


def iter_answer_files(content_dir: Path) -> Iterator[Path]:
    """Every ``<condition>/<slug>.md`` under ``content_dir``, in a stable order."""
    yield from sorted(content_dir.glob("*/*.md"))


POOL_PRELOAD = __name__.rpartition(".")[0]
"""What the worker processes' fork server imports once: this whole stage (parsing and
localization share the pool's start method)."""
PARSE_POOL_THRESHOLD = 400
"""From this many answer files on, :func:`load_corpus` parses them in worker processes."""


_Parsed = tuple["Answer | None", list["Problem"], int]


def _read_and_parse(path: Path) -> _Parsed:
    """Parse one answer file: the answer (or ``None``), its problems, the line of its id."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(str(path), 0, "file", f"cannot read: {exc.strerror}")], 0
    answer, found = parse_answer(data, str(path))
    return answer, found, _id_line(data) if answer is not None else 0


def _parse_chunk(paths: list[Path]) -> list[_Parsed]:
    return [_read_and_parse(path) for path in paths]


def _parse_all(paths: list[Path], workers: int | None) -> list[_Parsed]:
    if workers is None:
        workers = 1 if len(paths) < PARSE_POOL_THRESHOLD else usable_cpus()
    if workers <= 1:
        return _parse_chunk(paths)
    from concurrent.futures import ProcessPoolExecutor

    # Contiguous chunks, results joined in order: the same list as the serial loop.
    size = -(-len(paths) // workers)
    chunks = [paths[start:start + size] for start in range(0, len(paths), size)]
    context = worker_context(POOL_PRELOAD)
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=context) as pool:
        return [result for part in pool.map(_parse_chunk, chunks) for result in part]


def load_corpus(
    content_dir: Path, files: Iterable[Path] | None = None, *, workers: int | None = None
) -> Corpus:
    """Read and validate every answer under ``content_dir``; never stops at a bad file.

    Files are parsed independently: for a large corpus (by default from
    :data:`PARSE_POOL_THRESHOLD` files, one worker per CPU; ``workers=1`` for none) in
    worker processes. The result is the same either way.
    """
    answers: list[Answer] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    paths = list(files) if files is not None else list(iter_answer_files(content_dir))
    if files is None and content_dir.is_dir():
        for stray in sorted(content_dir.rglob("*.md")):
            if len(stray.relative_to(content_dir).parts) != 2:
                problems.append(
                    Problem(str(stray), 1, "path", "answers live in content/<condition>/<slug>.md")
                )
    for path, (answer, found, id_line) in zip(paths, _parse_all(paths, workers), strict=True):
        problems.extend(found)
        if answer is None:
            continue
        if answer.id in seen:
            reason = f"duplicate id {answer.id!r}, also in {seen[answer.id]}"
            problems.append(Problem(str(path), id_line, "id", reason))
            continue
        seen[answer.id] = str(path)
        answers.append(answer)
    return Corpus(tuple(answers), tuple(problems))


def _id_line(data: bytes) -> int:
    for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        if line.startswith("id:"):
            return number
    return 1
