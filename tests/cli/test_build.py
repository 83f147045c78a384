"""The ``syndicate build`` command: summary, exit status, content errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from syndicate.cli import cli
from syndicate.config import Settings
from tests.support import check_file


def run_build(settings: Settings, *extra: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, [
        "build", "--content", str(settings.content_dir), "--locales", str(settings.locales_dir),
        "--out", str(settings.out_dir), *extra,
    ], env={"SYNDICATE_BASE_URL": settings.base_url, "SYNDICATE_FEED_SIZE": "2"})
    return result.exit_code, result.stdout, result.stderr


def test_build_prints_a_table_and_writes_the_tree(feed_settings: Settings) -> None:
    code, out, _ = run_build(feed_settings)
    assert code == 0, out
    assert "language" in out and "published" in out and "ar" in out
    assert "files written" in out
    for path in feed_settings.out_dir.rglob("feed.*"):
        check_file(path)


def test_build_json_summary_and_rebuild_writes_nothing(feed_settings: Settings) -> None:
    code, out, _ = run_build(feed_settings, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["ok"] is True and summary["written"] > 0
    assert {r["language"]: r["answers"] for r in summary["languages"]} == {"en": 3, "ar": 3}
    code, out, _ = run_build(feed_settings, "--json")
    again = json.loads(out)
    assert again["written"] == 0 and again["unchanged"] == summary["written"]


def test_content_errors_fail_the_build_but_valid_answers_publish(
    feed_settings: Settings,
) -> None:
    broken = Path(feed_settings.content_dir) / "asthma" / "broken.md"
    broken.write_text("---\nid: 1a2b3c4d5e6f7009\nquestion: Broken?\n---\nText.\n", "utf-8")
    code, _, err = run_build(feed_settings)
    assert code == 1
    assert f"{broken}:1: condition: missing required field" in err or f"{broken}:" in err
    assert (feed_settings.out_dir / "en" / "feed.atom").is_file()
    assert b"Is Lupus contagious?" in (feed_settings.out_dir / "en/lupus/feed.atom").read_bytes()


def test_build_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["build", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "syndicate build" in result.output
