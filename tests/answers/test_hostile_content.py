"""Answer files an attacker or a slip could plant: symlinks out of ``content/`` and dates a
feed would show as lies. Each is refused with file:line; the other answers still load."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicate.answers.content import load_corpus, parse_answer
from syndicate.cli import cli
from tests.answers.test_content import GOOD, write


def test_a_symlinked_answer_pointing_outside_content_is_refused(tmp_path: Path) -> None:
    """Before: the link was followed and the file it points to published."""
    content = tmp_path / "content"
    write(content, "lupus/good.md", GOOD.format(id="good"))
    secret = write(tmp_path / "elsewhere", "private.md", GOOD.format(id="leaked"))
    (content / "lupus" / "leak.md").symlink_to(secret)
    inside = write(content, "lupus/original.md", GOOD.format(id="inside"))
    (content / "lupus" / "alias.md").symlink_to(inside)
    corpus = load_corpus(content)
    ids = sorted(answer.id for answer in corpus.answers)
    assert "leaked" not in ids and "good" in ids and "inside" in ids
    (problem,) = [p for p in corpus.problems if p.field == "path"]
    assert problem.path.endswith("leak.md") and str(secret) in problem.reason
    result = CliRunner().invoke(cli, ["validate", "--content", str(content)])
    assert result.exit_code != 0 and "leak.md:1: path" in result.output


def _with(field: str, value: str) -> str:
    text = GOOD.format(id="a1")
    if f"\n{field}:" in text:
        lines = [f"{field}: {value}" if line.startswith(f"{field}:") else line
                 for line in text.split("\n")]
        return "\n".join(lines)
    return text.replace("status: published", f"status: published\n{field}: {value}")


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("reviewed", "2099-01-01", "in the future"),
    ("reviewed", "0001-01-01", "before 1900"),
    ("review_due", "9999-12-31", "years after the review"),
    ("updated", "2099-01-01T00:00:00Z", "in the future"),
    ("updated", "0001-01-01T00:00:00Z", "before 1900"),
])
def test_implausible_dates_are_refused_with_their_line(field: str, value: str,
                                                       reason: str) -> None:
    """Before: accepted silently, and a future review date made the feeds' dates lie."""
    answer, problems = parse_answer(_with(field, value).encode(), "lupus/a.md")
    assert answer is None
    assert any(p.field == field and reason in p.reason and p.line > 1 for p in problems), \
        [str(p) for p in problems]


def test_the_future_tolerance_is_a_setting() -> None:
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    text = _with("reviewed", tomorrow).encode()
    assert parse_answer(text, "lupus/a.md")[0] is not None  # clock skew: accepted
    assert parse_answer(text, "lupus/a.md", future_days=0)[0] is None
    later = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    assert parse_answer(_with("reviewed", later).encode(), "lupus/a.md",
                        future_days=60)[0] is not None
