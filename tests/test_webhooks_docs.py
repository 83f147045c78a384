"""Every webhook command has help with an example and appears in docs/webhooks.md."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from syndicate.cli import cli
from tests.support import ROOT

DOCS = ROOT / "docs" / "webhooks.md"
GROUPS = ("db", "subscribers", "deliveries")
COMMANDS = [("sync",), ("deliver",)] + [
    (group, name)
    for group in GROUPS
    for name in sorted(cli.commands[group].commands)  # type: ignore[attr-defined]
]


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_command_is_documented_with_an_example(words: tuple[str, ...]) -> None:
    """``syndicate <words> --help`` shows an example, and the guide lists the command."""
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    assert f"syndicate {' '.join(words)}" in DOCS.read_text(encoding="utf-8")


def test_groups_are_click_groups() -> None:
    """The webhook command groups exist."""
    assert all(isinstance(cli.commands[group], click.Group) for group in GROUPS)
