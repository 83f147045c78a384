"""Answers: parse and validate ``content/<condition>/<slug>.md`` files.

An answer file is YAML front matter between ``---`` lines, then a Markdown body. The text
before the first ``##`` heading is the short answer; each heading opens a section. The body is
cut into blocks (headings, paragraphs, list items): one block is one translatable message.

This module is pure: it turns bytes into values. :func:`load_corpus` is the only function that
reads files, and it never stops at the first bad file: every problem is collected as a
:class:`Problem` printed ``file:line: field: reason``. The two markups themselves (YAML front
matter, Markdown body) are read by :mod:`._markup`; what an answer must say is decided here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Literal

from .._pool import usable_cpus, worker_context
from ..tags import is_safe_name, slugify
from ._markup import Block as Block
from ._markup import BlockKind as BlockKind
from ._markup import (
    Fields,
    check_lists,
    front_matter_fields,
    parse_date,
    parse_datetime,
    split_front_matter,
    walk_body,
)

Severity = Literal["error", "warning"]
Status = Literal["published", "withdrawn"]

REQUIRED = ("id", "condition", "question", "reviewed", "url")
OPTIONAL = ("review_due", "reviewed_by", "experiences", "status", "updated")
KNOWN = frozenset(REQUIRED + OPTIONAL)


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

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled as the constructor's arguments: two to three times faster than the default
        # for a slotted dataclass, and the localization cache and the worker processes
        # pickle tens of thousands of them.
        return (type(self), tuple(getattr(self, name) for name in _ANSWER_FIELDS))

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


_ANSWER_FIELDS = tuple(field.name for field in dataclasses.fields(Answer))


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


DEFAULT_FUTURE_DAYS = 2
"""How far in the future ``reviewed`` and ``updated`` may be (clock skew), by default."""
EARLIEST = dt.date(1900, 1, 1)
"""No answer was medically reviewed, or edited, before this."""
REVIEW_DUE_YEARS = 10
"""``review_due`` at most this many years after ``reviewed``."""


class _Collector:
    """Problems of one file, with the file's path filled in."""

    def __init__(self, path: str, future_days: int = DEFAULT_FUTURE_DAYS) -> None:
        self.path = path
        self.future_days = future_days
        self.problems: list[Problem] = []

    def error(self, line: int, field: str, reason: str) -> None:
        self.problems.append(Problem(self.path, line, field, reason))

    def warning(self, line: int, field: str, reason: str) -> None:
        self.problems.append(Problem(self.path, line, field, reason, "warning"))

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def parse_answer(
    data: bytes, path: str, *, future_days: int = DEFAULT_FUTURE_DAYS
) -> tuple[Answer | None, list[Problem]]:
    """Parse one answer file. Returns the answer (``None`` if unusable) and its problems.
    ``reviewed`` and ``updated`` may be at most ``future_days`` after today (UTC)."""
    out = _Collector(path, future_days)
    text = _decode(data, out)
    if text is None:
        return None, out.problems
    split = split_front_matter(text, out)
    if split is None:
        return None, out.problems
    front, body, body_line = split
    fields = front_matter_fields(front, 2, out)
    if fields is None:
        return None, out.problems
    _check_keys(fields, out)
    condition_slug, slug = _check_names(fields, path, out)
    reviewed, review_due, updated = _dates(fields, out)
    _plausible(fields, out, reviewed, review_due, updated)
    experiences = _experiences(fields, out)
    status = _status(fields, out)
    _check_url(fields, out)
    blocks = _body_blocks(body, body_line, status, out)
    if out.failed or reviewed is None:
        return None, out.problems
    answer = Answer(
        id=_value(fields, "id")[0],
        condition=_value(fields, "condition")[0],
        condition_slug=condition_slug,
        slug=slug,
        question=_value(fields, "question")[0],
        reviewed=reviewed,
        url=_value(fields, "url")[0],
        blocks=tuple(blocks),
        path=path,
        review_due=review_due,
        reviewed_by=_value(fields, "reviewed_by")[0] or None,
        experiences=experiences,
        status=status,
        updated=updated,
        question_line=_value(fields, "question")[1],
        condition_line=_value(fields, "condition")[1],
    )
    return answer, out.problems


def _decode(data: bytes, out: _Collector) -> str | None:
    """The text of an answer file (BOM dropped, CRLF made LF); ``None`` if not clean UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        out.error(line, "encoding", f"not UTF-8: byte 0x{byte:02x} at offset {exc.start}")
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    if bad:
        line = text[: bad.start()].count("\n") + 1
        out.error(line, "encoding", f"control character U+{ord(bad.group()):04X} is not allowed")
        return None
    return text


def _value(fields: Fields, key: str) -> tuple[str, int]:
    """A field's text and line; ``("", 1)`` when the field is absent."""
    return fields.get(key, ("", 1))


def _check_keys(fields: Fields, out: _Collector) -> None:
    """Report unknown keys, then missing (or empty) required ones."""
    for key, (_, line) in fields.items():
        if key not in KNOWN:
            out.error(line, key, f"unknown key (known: {', '.join(sorted(KNOWN))})")
    for key in REQUIRED:
        if key not in fields or not fields[key][0]:
            line = fields[key][1] if key in fields else 1
            out.error(line, key, "missing required field")


def _check_names(fields: Fields, path: str, out: _Collector) -> tuple[str, str]:
    """Check the id and the names the path gives; the condition's folder and the slug.

    An answer lives in ``content/<condition>/<slug>.md``: both names end up in URLs, and the
    folder must be the slug of the ``condition`` field.
    """
    answer_id, id_line = _value(fields, "id")
    if answer_id and not is_safe_name(answer_id):
        out.error(id_line, "id", f"{answer_id!r} must be lower-case letters, digits and hyphens")
    parts = Path(path).parts
    condition_slug = parts[-2] if len(parts) >= 2 else ""
    slug = Path(path).stem
    if not is_safe_name(condition_slug):
        out.error(1, "condition", f"folder {condition_slug!r} is not a safe condition name")
    if not is_safe_name(slug):
        out.error(1, "slug", f"file name {slug!r} must be lower-case letters, digits and hyphens")
    condition, condition_line = _value(fields, "condition")
    if condition and condition_slug and slugify(condition) != condition_slug:
        out.error(
            condition_line,
            "condition",
            f"{condition!r} belongs in folder {slugify(condition)!r}, not {condition_slug!r}",
        )
    return condition_slug, slug


def _dates(
    fields: Fields, out: _Collector
) -> tuple[dt.date | None, dt.date | None, dt.datetime | None]:
    """``reviewed``, ``review_due`` (not before the review) and ``updated``, when valid."""
    reviewed = review_due = None
    if _value(fields, "reviewed")[0]:
        reviewed = parse_date(*_value(fields, "reviewed"), "reviewed", out)
    if _value(fields, "review_due")[0]:
        review_due = parse_date(*_value(fields, "review_due"), "review_due", out)
    if reviewed and review_due and review_due < reviewed:
        out.error(
            _value(fields, "review_due")[1],
            "review_due",
            f"{review_due.isoformat()} is before reviewed {reviewed.isoformat()}",
        )
    updated = None
    if _value(fields, "updated")[0]:
        updated = parse_datetime(*_value(fields, "updated"), "updated", out)
    return reviewed, review_due, updated


def _plausible(fields: Fields, out: _Collector, reviewed: dt.date | None,
               review_due: dt.date | None, updated: dt.datetime | None) -> None:
    """Refuse dates a feed would show as lies: a review in the future (beyond the tolerance
    for clock skew), before 1900, or a next review further than ten years ahead."""
    latest = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=out.future_days)
    checks = [("reviewed", reviewed), ("updated", updated.date() if updated else None)]
    for name, value in checks:
        if value is None:
            continue
        if value > latest:
            out.error(_value(fields, name)[1], name,
                      f"{value.isoformat()} is in the future (at most {out.future_days} days "
                      "ahead are accepted: review_future_days)")
        elif value < EARLIEST:
            out.error(_value(fields, name)[1], name,
                      f"{value.isoformat()} is before {EARLIEST.year}")
    if reviewed and review_due and review_due.year - reviewed.year > REVIEW_DUE_YEARS:
        out.error(_value(fields, "review_due")[1], "review_due",
                  f"{review_due.isoformat()} is more than {REVIEW_DUE_YEARS} years after "
                  "the review")


def _experiences(fields: Fields, out: _Collector) -> int:
    """How many people's experiences the answer draws on (0 when not given or invalid)."""
    value, line = _value(fields, "experiences")
    if not value:
        return 0
    if re.fullmatch(r"\d{1,9}", value):
        return int(value)
    out.error(line, "experiences", f"{value!r} is not a whole number of people")
    return 0


def _status(fields: Fields, out: _Collector) -> Status:
    """``published`` unless the field says ``withdrawn`` (anything else is an error)."""
    status_text, status_line = _value(fields, "status")
    if status_text == "withdrawn":
        return "withdrawn"
    if status_text not in {"", "published"}:
        out.error(status_line, "status", f"{status_text!r} must be 'published' or 'withdrawn'")
    return "published"


def _check_url(fields: Fields, out: _Collector) -> None:
    url, url_line = _value(fields, "url")
    if url and not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url):
        out.error(url_line, "url", f"{url!r} is not an absolute http(s) URL")


def _body_blocks(body: str, body_line: int, status: Status, out: _Collector) -> list[Block]:
    """The blocks of the body; a published answer needs some, and a short answer first."""
    blocks = walk_body(body, body_line, out)
    if not blocks:
        if status == "published":
            out.error(body_line, "body", "empty: a published answer needs a text")
    elif not any(not block.section for block in blocks):
        out.error(blocks[0].line, "body", "no short answer: text must come before the first '##'")
    check_lists(blocks, out)
    return blocks


def iter_answer_files(content_dir: Path) -> Iterator[Path]:
    """Every ``<condition>/<slug>.md`` under ``content_dir``, in a stable order."""
    yield from sorted(content_dir.glob("*/*.md"))


POOL_PRELOAD = __name__.rpartition(".")[0]
"""What the worker processes' fork server imports once: this whole stage (parsing and
localization share the pool's start method)."""
PARSE_POOL_THRESHOLD = 400
"""From this many answer files on, :func:`load_corpus` parses them in worker processes."""


Parsed = tuple["Answer | None", list["Problem"], int]
"""One file parsed: the answer (or ``None``), its problems, the line of its id."""


def _read_and_parse(path: Path, future_days: int = DEFAULT_FUTURE_DAYS) -> Parsed:
    """Parse one answer file: the answer (or ``None``), its problems, the line of its id."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(str(path), 0, "file", f"cannot read: {exc.strerror}")], 0
    answer, found = parse_answer(data, str(path), future_days=future_days)
    return answer, found, _id_line(data) if answer is not None else 0


def _parse_chunk(paths: list[Path], future_days: int = DEFAULT_FUTURE_DAYS) -> list[Parsed]:
    return [_read_and_parse(path, future_days) for path in paths]


def _outside(path: Path, root: Path) -> str | None:
    """Where a symlinked answer file leads when that is outside ``root``, else ``None``."""
    if not path.is_symlink():
        return None
    target = path.resolve()
    return None if target.is_relative_to(root.resolve()) else str(target)


def parse_files(paths: list[Path], workers: int | None,
                future_days: int = DEFAULT_FUTURE_DAYS) -> list[Parsed]:
    """Parse every file of ``paths``, in order (in worker processes past the threshold)."""
    if workers is None:
        workers = 1 if len(paths) < PARSE_POOL_THRESHOLD else usable_cpus()
    if workers <= 1:
        return _parse_chunk(paths, future_days)
    from concurrent.futures import ProcessPoolExecutor

    # Contiguous chunks, results joined in order: the same list as the serial loop.
    size = -(-len(paths) // workers)
    chunks = [paths[start:start + size] for start in range(0, len(paths), size)]
    context = worker_context(POOL_PRELOAD)
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=context) as pool:
        parse = functools.partial(_parse_chunk, future_days=future_days)
        return [result for part in pool.map(parse, chunks) for result in part]


def load_corpus(
    content_dir: Path, files: Iterable[Path] | None = None, *, workers: int | None = None,
    future_days: int = DEFAULT_FUTURE_DAYS,
    parse: Callable[[list[Path], int | None, int], list[Parsed]] | None = None,
) -> Corpus:
    """Read and validate every answer under ``content_dir``; never stops at a bad file.

    Files are parsed independently: for a large corpus (by default from
    :data:`PARSE_POOL_THRESHOLD` files, one worker per CPU; ``workers=1`` for none) in
    worker processes. The result is the same either way. ``parse`` replaces
    :func:`parse_files` (the localization cache passes one that parses only changed files).
    """
    answers: list[Answer] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    paths = list(files) if files is not None else list(iter_answer_files(content_dir))
    for path in list(paths):
        target = _outside(path, content_dir)
        if target is not None:  # never published: it could be any file of the machine
            problems.append(Problem(str(path), 1, "path",
                                    f"a symlink to {target}, outside {content_dir}: refused"))
            paths.remove(path)
    if files is None and content_dir.is_dir():
        for stray in sorted(content_dir.rglob("*.md")):
            if len(stray.relative_to(content_dir).parts) != 2:
                problems.append(
                    Problem(str(stray), 1, "path", "answers live in content/<condition>/<slug>.md")
                )
    parsed = (parse or parse_files)(paths, workers, future_days)
    for path, (answer, found, id_line) in zip(paths, parsed, strict=True):
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
