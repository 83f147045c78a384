"""The documentation keeps up with the code: every setting and every command is documented."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import click
import pytest

from syndicate.cli import cli
from syndicate.config import Settings
from tests.support import ROOT


def documentation() -> str:
    parts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    parts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(parts)


def commands(group: click.Group, prefix: str = "syndicate") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Settings)])
def test_every_setting_is_in_the_readme(field: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`SYNDICATE_{field.upper()}`" in readme
    assert f"`{field}`" in readme


@pytest.mark.parametrize(("path", "command"), list(commands(cli)), ids=lambda v: str(v))
def test_every_command_is_documented_with_an_example(path: str, command: click.Command) -> None:
    assert path in documentation(), f"{path} is not in README.md or docs/"
    if not isinstance(command, click.Group):
        assert "Example" in (command.help or ""), f"{path} --help has no example"


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert [line.split("#")[0].strip() for line in lines] == ["make run", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.rstrip().splitlines()[-1] == "make test"


def test_every_dependency_is_justified_in_the_readme() -> None:
    """Each runtime and test dependency of pyproject.toml is named in README's Dependencies."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Dependencies", 1)[1]
    for requirement in names:
        name = re.split(r"[\[<>=!;~ ]", requirement, maxsplit=1)[0].lower()
        assert name in section.lower(), f"{name} is not justified in README's Dependencies"
