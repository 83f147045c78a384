"""Answer files: parsing, the bundled seed answer, and validation of every problem at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.answers.content import load_corpus, parse_answer
from syndicate.cli import cli
from tests.support import FIXTURES

SEED = FIXTURES / "seed-what-causes-lupus.txt"
"""The seed page the bundled answer reproduces, as the publisher gave it."""

GOOD = """\
---
id: {id}
condition: Lupus
question: What causes Lupus?
reviewed: 2026-04-06
experiences: 15
url: https://diseasemaps.example/lupus/what-causes-lupus
status: published
---
Short answer text.

## Section

A paragraph.

- first item
- second item
"""


def write(root: Path, relative: str, text: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems_of(text: str, name: str = "lupus/a.md") -> list[str]:
    _, problems = parse_answer(text.encode(), name)
    return [str(p) for p in problems]


def test_bundled_answer_reproduces_the_seed(project_root: Path) -> None:
    """The bundled Lupus answer has the seed's dates, count and every paragraph verbatim."""
    corpus = load_corpus(project_root / "content")
    assert corpus.errors == ()
    (answer,) = corpus.answers
    assert answer.question == "What causes Lupus?"
    assert answer.reviewed == dt.date(2026, 4, 6)
    assert answer.experiences == 15
    assert answer.condition == "Lupus"
    assert answer.status == "published"
    seed_lines = SEED.read_text(encoding="utf-8").splitlines()
    body = [block.text for block in answer.blocks]
    for paragraph in seed_lines[3:7]:
        assert paragraph in body
    assert "The Genetic and Biological Foundation" in body
    assert answer.short_answer[0].text == seed_lines[3]


def test_lost_list_is_a_warning_naming_file_and_line(project_root: Path) -> None:
    """The seed's 'Potential triggers ... include:' has no list: a warning, and it publishes."""
    corpus = load_corpus(project_root / "content")
    (warning,) = corpus.warnings
    assert warning.path.endswith("content/lupus/what-causes-lupus.md")
    assert warning.line == 16
    assert "list introduced but missing" in str(warning)
    assert len(corpus.published) == 1


def test_a_list_after_the_introduction_is_fine() -> None:
    text = GOOD.format(id="a1").replace("A paragraph.", "Triggers include:")
    assert problems_of(text) == []


def test_good_answer_parses_into_blocks() -> None:
    answer, problems = parse_answer(GOOD.format(id="a1").encode(), "lupus/a.md")
    assert problems == []
    assert answer is not None
    kinds = [(b.kind, b.section) for b in answer.blocks]
    assert kinds == [
        ("paragraph", ""),
        ("heading", "Section"),
        ("paragraph", "Section"),
        ("item", "Section"),
        ("item", "Section"),
    ]
    assert [b.line for b in answer.blocks] == [10, 12, 14, 16, 17]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("reviewed: 2026-04-06", "reviewed: 2026-02-30"),
         "lupus/a.md:5: reviewed: impossible date '2026-02-30'"),
        (lambda t: t.replace("reviewed: 2026-04-06", "reviewed: last spring"),
         "lupus/a.md:5: reviewed: unparseable date 'last spring'"),
        (lambda t: t.replace("reviewed: 2026-04-06\n", "reviewed: 2026-04-06\nreview_due: 2025-01-01\n"),
         "lupus/a.md:6: review_due: 2025-01-01 is before reviewed 2026-04-06"),
        (lambda t: t.replace("question: What causes Lupus?\n", ""),
         "lupus/a.md:1: question: missing required field"),
        (lambda t: t.replace("status: published", "status: published\nauthor: me"),
         "lupus/a.md:9: author: unknown key"),
        (lambda t: t.split("---\n")[0] + "---\n" + t.split("---\n")[1] + "---\n",
         "lupus/a.md:10: body: empty: a published answer needs a text"),
        (lambda t: t.replace("---\nid", "id", 1),
         "lupus/a.md:1: front matter: missing"),
        (lambda t: t.replace("question: What causes Lupus?", "question: [unclosed"),
         "lupus/a.md:5: front matter: invalid YAML"),
        (lambda t: t.replace("experiences: 15", "experiences: many"),
         "lupus/a.md:6: experiences: 'many' is not a whole number"),
        (lambda t: t.replace("condition: Lupus", "condition: Asthma"),
         "lupus/a.md:3: condition: 'Asthma' belongs in folder 'asthma'"),
        (lambda t: t.replace("id: a1", "id: ../../etc"),
         "lupus/a.md:2: id: '../../etc' must be lower-case letters"),
        (lambda t: t.replace("A paragraph.", "<script>alert(1)</script>"),
         "lupus/a.md:14: body: raw HTML is not allowed"),
        (lambda t: t.replace("Short answer text.\n", ""),
         "lupus/a.md:11: body: no short answer"),
    ],
)
def test_each_validation_problem_names_file_line_and_field(edit, expected) -> None:  # type: ignore[no-untyped-def]
    found = problems_of(edit(GOOD.format(id="a1")))
    assert any(line.startswith(expected) for line in found), found


def test_non_utf8_bytes_name_the_line() -> None:
    data = GOOD.format(id="a1").encode().replace(b"A paragraph.", b"A caf\xe9 paragraph.")
    answer, problems = parse_answer(data, "lupus/a.md")
    assert answer is None
    assert str(problems[0]).startswith("lupus/a.md:14: encoding: not UTF-8")


def test_control_characters_are_refused_with_their_line() -> None:
    text = GOOD.format(id="a1").replace("A paragraph.", "A para\x07graph.")
    assert problems_of(text)[0].startswith("lupus/a.md:14: encoding: control character U+0007")


def test_every_problem_of_every_file_is_reported_and_good_files_still_load(tmp_path: Path) -> None:
    """One bad file never stops the others; duplicates name both files."""
    write(tmp_path, "lupus/a-good.md", GOOD.format(id="good-1"))
    write(tmp_path, "lupus/dup.md", GOOD.format(id="good-1"))
    write(tmp_path, "lupus/bad-date.md", GOOD.format(id="b2").replace("2026-04-06", "2026-13-01"))
    write(tmp_path, "lupus/no-front.md", "Just text\n")
    write(tmp_path, "lupus/latin1.md", GOOD.format(id="b3").encode().replace(b"text.", b"t\xe9xt."))
    write(tmp_path, "asthma/two-problems.md",
          GOOD.format(id="b4").replace("condition: Lupus", "condition: Asthma")
          .replace("experiences: 15", "experiences: -3\ncolour: red"))
    corpus = load_corpus(tmp_path)
    assert [a.id for a in corpus.answers] == ["good-1"]
    fields = sorted((Path(p.path).name, p.field) for p in corpus.errors)
    assert fields == [
        ("bad-date.md", "reviewed"),
        ("dup.md", "id"),
        ("latin1.md", "encoding"),
        ("no-front.md", "front matter"),
        ("two-problems.md", "colour"),
        ("two-problems.md", "experiences"),
    ]
    duplicate = next(p for p in corpus.errors if p.field == "id")
    assert "duplicate id 'good-1'" in duplicate.reason and "a-good.md" in duplicate.reason


@pytest.mark.parametrize("workers", [2, 3])
def test_parsing_in_worker_processes_gives_the_serial_corpus(tmp_path: Path, workers: int) -> None:
    """Answers, problems and their order are the same with worker processes as without."""
    write(tmp_path, "lupus/a-good.md", GOOD.format(id="good-1"))
    write(tmp_path, "lupus/dup.md", GOOD.format(id="good-1"))
    write(tmp_path, "lupus/bad-date.md", GOOD.format(id="b2").replace("2026-04-06", "2026-13-01"))
    write(tmp_path, "lupus/no-front.md", "Just text\n")
    write(tmp_path, "lupus/latin1.md", GOOD.format(id="b3").encode().replace(b"text.", b"t\xe9xt."))
    for number in range(5):
        write(tmp_path, f"asthma/q{number}.md",
              GOOD.format(id=f"q{number}").replace("condition: Lupus", "condition: Asthma"))
    write(tmp_path, "asthma/z-dup.md",
          GOOD.format(id="q1").replace("condition: Lupus", "condition: Asthma"))
    serial = load_corpus(tmp_path, workers=1)
    pooled = load_corpus(tmp_path, workers=workers)
    assert pooled == serial
    assert len(serial.answers) == 6 and len(serial.errors) == 5


def test_validate_command_lists_all_problems_and_exits_non_zero(tmp_path: Path) -> None:
    write(tmp_path, "lupus/good.md", GOOD.format(id="good-1"))
    write(tmp_path, "lupus/bad.md", GOOD.format(id="b1").replace("2026-04-06", "2026-02-30"))
    write(tmp_path, "lupus/worse.md", GOOD.format(id="b2").replace("status: published", "status: draft"))
    result = CliRunner().invoke(cli, ["validate", "--content", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.md:5: reviewed: impossible date" in result.output
    assert "worse.md:8: status: 'draft' must be 'published' or 'withdrawn'" in result.output
    assert "1 answers valid, 2 errors" in result.output


def test_validate_json_for_scripts(project_root: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "--json", "--content", str(project_root / "content")])
    assert result.exit_code == 0, result.output
    assert '"answers": 1' in result.output
    assert '"line": 16' in result.output


def test_withdrawn_answer_is_parsed_but_not_published(tmp_path: Path) -> None:
    write(tmp_path, "lupus/a.md", GOOD.format(id="w1").replace("status: published", "status: withdrawn"))
    corpus = load_corpus(tmp_path)
    assert len(corpus.answers) == 1
    assert corpus.published == ()


def test_source_hash_changes_with_review_date_only_when_it_changes() -> None:
    first, _ = parse_answer(GOOD.format(id="a1").encode(), "lupus/a.md")
    again, _ = parse_answer(GOOD.format(id="a1").encode(), "lupus/a.md")
    later, _ = parse_answer(GOOD.format(id="a1").replace("2026-04-06", "2026-05-01").encode(), "lupus/a.md")
    assert first and again and later
    assert first.source_hash == again.source_hash != later.source_hash


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_an_answer_or_located_problems_never_an_exception(data: bytes) -> None:
    answer, problems = parse_answer(b"---\n" + data, "lupus/x.md")
    assert answer is not None or any(p.severity == "error" for p in problems)
    for problem in problems:
        assert str(problem).startswith("lupus/x.md:")


_FRONT_CHARS = list("ab: -#:/:'\"\t\n[]{}|>&*!%@`,?()1\u00e9\u2028\x85")
_FRONT = st.one_of(
    st.text(alphabet=st.sampled_from(_FRONT_CHARS), max_size=60),
    st.lists(st.tuples(st.sampled_from(["a", "id", "b_2"]), st.sampled_from([": ", ":", ":  "]),
                       st.text(alphabet=st.sampled_from(_FRONT_CHARS), max_size=12)),
             max_size=4).map(lambda lines: "\n".join("".join(line) for line in lines)),
)


@settings(max_examples=300)
@given(_FRONT)
def test_libyaml_and_pure_front_matter_agree(source: str) -> None:
    """Front matter composes to the same nodes and lines, or fails the same way."""
    import yaml

    from syndicate.answers import _markup

    def shape(compose: object) -> object:
        try:
            node = compose(source)  # type: ignore[operator]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            return ("error", getattr(exc, "problem", None), mark.line if mark else None)
        if not isinstance(node, yaml.MappingNode):
            return type(node).__name__
        return [(type(k).__name__, k.value if isinstance(k, yaml.ScalarNode) else None,
                 k.start_mark.line, type(v).__name__,
                 v.value if isinstance(v, yaml.ScalarNode) else None) for k, v in node.value]

    assert shape(_markup._compose) == shape(lambda s: yaml.compose(s, Loader=yaml.SafeLoader))


# -- hostile input: any bytes, any front matter values, any names ---------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_even_without_front_matter_never_raise(data: bytes) -> None:
    """Raw bytes (no ``---`` given for free) still give an answer or located problems."""
    answer, problems = parse_answer(data, "lupus/x.md")
    assert answer is not None or any(p.severity == "error" for p in problems)
    assert all(str(p).startswith("lupus/x.md:") and p.line >= 1 for p in problems)


_ANY_VALUE = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from(list("0123456789-:TZ+ \t\"'#[]{}|>&*!%@`,\\\n\x00\x85\u2028\ud800\ufeff")), max_size=20),
    st.sampled_from(["", "~", "null", "yes", "[1, 2]", "{a: 1}", "|\n  block", "2026-02-30",
                     "2026-04-06", "-1", "1e9", "9999999999", "'quoted'", "&a x", "*a", "!!binary AA=="]),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "condition", "question", "reviewed", "url",
                                        "review_due", "reviewed_by", "experiences", "status",
                                        "updated", "unknown", "a b"]),
                       _ANY_VALUE, max_size=10),
       st.text(max_size=200))
def test_any_front_matter_values_give_an_answer_or_located_problems(
    values: dict[str, str], body: str
) -> None:
    """Whatever a front-matter value holds (YAML syntax, controls, surrogates, BOMs), the
    parser answers with an Answer or with problems naming the file and a line."""
    text = "---\n" + "".join(f"{key}: {value}\n" for key, value in values.items()) + "---\n" + body
    answer, problems = parse_answer(text.encode("utf-8", "surrogatepass"), "lupus/x.md")
    assert answer is not None or any(p.severity == "error" for p in problems)
    assert all(str(p).startswith("lupus/x.md:") and p.line >= 1 for p in problems)
    if answer is not None:
        assert answer.id and answer.condition and answer.question and answer.url


_WORD = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N"), exclude_characters="\u2028\u2029"),
                min_size=1, max_size=12)
_SENTENCE = st.lists(_WORD, min_size=1, max_size=8).map(" ".join)
_SAFE = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
_DATES = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2026, 1, 1))
"""Review dates a valid answer may have: not in the future (see test_hostile_content)."""


@settings(max_examples=200, deadline=None)
@given(answer_id=_SAFE, slug=_SAFE, question=_SENTENCE, reviewed=_DATES,
       due_days=st.none() | st.integers(0, 3000), reviewer=st.none() | _SENTENCE,
       experiences=st.integers(0, 999_999_999), withdrawn=st.booleans(),
       paragraphs=st.lists(_SENTENCE, min_size=1, max_size=4),
       sections=st.lists(st.tuples(_SENTENCE, st.lists(_SENTENCE, min_size=1, max_size=3)),
                         max_size=3))
def test_valid_generated_answers_round_trip_their_fields(
    answer_id: str, slug: str, question: str, reviewed: dt.date, due_days: int | None,
    reviewer: str | None, experiences: int, withdrawn: bool, paragraphs: list[str],
    sections: list[tuple[str, list[str]]],
) -> None:
    """Every field written into a well-formed answer file comes back exactly."""
    due = reviewed + dt.timedelta(days=due_days) if due_days is not None else None
    lines = ["---", f"id: {answer_id}", "condition: Lupus", f"question: {question!s}",
             f"reviewed: {reviewed.isoformat()}", f"experiences: {experiences}",
             f"url: https://diseasemaps.example/lupus/{slug}",
             f"status: {'withdrawn' if withdrawn else 'published'}"]
    if due is not None:
        lines.append(f"review_due: {due.isoformat()}")
    if reviewer is not None:
        lines.append(f"reviewed_by: {reviewer}")
    lines += ["---", "", "\n\n".join(paragraphs)]
    for heading, items in sections:
        lines += ["", f"## {heading}", ""] + [f"- {item}" for item in items]
    # Quote the free-text values the YAML way so digits, "yes" or "null" stay strings.
    text = "\n".join(lines) + "\n"
    for key, value in (("question", question), ("reviewed_by", reviewer)):
        if value is not None:
            text = text.replace(f"{key}: {value}\n", f"{key}: '{value}'\n", 1)
    answer, problems = parse_answer(text.encode(), f"content/lupus/{slug}.md")
    assert answer is not None, [str(p) for p in problems]
    assert (answer.id, answer.slug, answer.condition_slug) == (answer_id, slug, "lupus")
    assert answer.question == question and answer.reviewed == reviewed
    assert answer.review_due == due and answer.reviewed_by == reviewer
    assert answer.experiences == experiences
    assert answer.status == ("withdrawn" if withdrawn else "published")
    expected = [("paragraph", p) for p in paragraphs]
    for heading, items in sections:
        expected += [("heading", heading)] + [("item", item) for item in items]
    assert [(block.kind, block.text) for block in answer.blocks] == expected


HOSTILE_NAMES = [
    "..", "../etc", "a/../../b", "/etc/passwd", "a\x00b", "a\\..\\b", "..\\..\\x", "C:\\x",
    "\u2024\u2024", "\uff0e\uff0e", "lupus\n", "lupus\r", " lupus", "lupus.", "%2e%2e",
    "LUPUS", "-lupus", "lupus-", "l" * 65, "",
]
"""Names that try to leave a folder or do not name one cleanly: parent steps, absolute
paths, NUL, backslashes, look-alike dots (one dot leader, fullwidth stop), line breaks."""


@pytest.mark.parametrize("name", [n for n in HOSTILE_NAMES if n.strip() != "lupus"])
def test_hostile_answer_ids_are_refused(name: str) -> None:
    """An id that is not lower-case letters, digits and inner hyphens is an error (values
    are trimmed, so ``lupus\n`` in quotes is the id ``lupus``)."""
    quoted = name.replace("\\", "\\\\").replace("\x00", "\\0").replace("\n", "\\n").replace("\r", "\\r")
    text = GOOD.replace("id: {id}", f'id: "{quoted}"')
    answer, problems = parse_answer(text.encode(), "lupus/a.md")
    assert answer is None
    assert any(p.field == "id" for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_condition_folders_and_slugs_are_refused(name: str) -> None:
    """Folder and file names reach the publication tree and URLs: unsafe ones are errors."""
    text = GOOD.format(id="a1").encode()
    answer, problems = parse_answer(text, f"content/{name}/a.md")
    assert answer is None
    assert any(p.field == "condition" for p in problems)
    answer, problems = parse_answer(text, f"content/lupus/{name}.md")
    assert answer is None
    assert any(p.field in {"slug", "condition"} for p in problems), [str(p) for p in problems]


_BODY = st.lists(
    st.sampled_from([
        "Text *em* and **strong**.", "## Heading `code`", "# Title", "- item [a](https://x.org)",
        "1. first", "2) second", "  - nested", "> quote", "```", "    indented code", "***",
        "<div>raw</div>", "<b>inline</b> html", "[ref]: https://x.org", "[ref]", "Setext",
        "===", "---", "", "", "\\*escaped\\*", "&amp; &copy;", "| a | b |", "![img](x.png)",
        "مرحبا *بالعالم*", "  lazy continuation", "* star item", "+ plus item", "\t\ttabbed",
    ]) | st.text(alphabet=st.sampled_from(list("ab *_`[]()!<>&\\#-=+1.: \t\u00e9")), max_size=20),
    max_size=14,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(_BODY)
def test_block_only_parse_cuts_bodies_like_the_full_parse(body: str) -> None:
    """The body is cut with markdown-it's block phase only: the blocks, their lines and the
    problems found are those the full parse (inline phase included) gives."""
    from markdown_it import MarkdownIt

    from syndicate.answers import _markup

    class Out:
        def __init__(self) -> None:
            self.seen: list[tuple[str, int, str, str]] = []

        def error(self, line: int, field: str, reason: str) -> None:
            self.seen.append(("error", line, field, reason))

        def warning(self, line: int, field: str, reason: str) -> None:
            self.seen.append(("warning", line, field, reason))

    fast_out, full_out = Out(), Out()
    fast = _markup.walk_body(body, 12, fast_out)
    block_only = _markup._MARKDOWN
    try:
        _markup._MARKDOWN = MarkdownIt("commonmark")
        full = _markup.walk_body(body, 12, full_out)
    finally:
        _markup._MARKDOWN = block_only
    assert fast == full
    assert fast_out.seen == full_out.seen
