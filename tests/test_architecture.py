"""The shape of the package: public faces, one owner per name, one error hierarchy, readable
units. (The import layers are import-linter's contracts in pyproject.toml, run by
``make check``.)"""

from __future__ import annotations

import ast
import collections
import importlib
import inspect
import pkgutil
import types
from pathlib import Path

import pytest

import syndicate
from syndicate import errors
from syndicate.errors import SyndicateError

PACKAGE = Path(syndicate.__file__).resolve().parent
FACES = ["syndicate", "syndicate.answers", "syndicate.publication", "syndicate.webhooks",
         "syndicate.http", "syndicate.service", "syndicate.cli", "syndicate.store",
         "syndicate.testing"]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
LONG_REASON = "# Longer than 60 lines:"
"""A comment right above a ``def`` that says why the function reads best as one piece."""


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _modules() -> list[types.ModuleType]:
    """Every module of the package (the migration scripts are Alembic's, not importable)."""
    names = ["syndicate"] + [
        info.name for info in pkgutil.walk_packages([str(PACKAGE)], "syndicate.")
        if ".migrations" not in info.name and info.name != "syndicate.__main__"
    ]
    return [importlib.import_module(name) for name in names]


@pytest.mark.parametrize("name", FACES)
def test_each_package_exports_exactly_its_all(name: str) -> None:
    """A package's ``__all__`` names exactly its public members (httpx's rule): nothing
    exported by accident, nothing listed that is not there. Submodules are not members."""
    package = importlib.import_module(name)
    public = {
        member for member, value in vars(package).items()
        if not member.startswith("_") and not isinstance(value, types.ModuleType)
        and member != "annotations"
    }
    exported = list(package.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    assert set(exported) - {"__version__"} == public, name


def test_no_class_name_is_defined_twice() -> None:
    """One name, one concept: no two classes anywhere in the package share a name."""
    seen: dict[str, list[str]] = collections.defaultdict(list)
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                seen[node.name].append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}


def test_every_error_the_package_defines_is_a_syndicate_error() -> None:
    """Callers catch one base class; errors.py draws every one of them."""
    defined = {
        cls for module in _modules() for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__.startswith("syndicate")
    }
    assert {cls.__qualname__ for cls in defined if not issubclass(cls, SyndicateError)} == set()
    public = {cls.__name__ for cls in defined if not cls.__name__.startswith("_")}
    drawn = errors.__doc__ or ""
    assert {name for name in public if name not in drawn} == set()
    assert {cls.__module__ for cls in defined if not cls.__name__.startswith("_")} == {
        "syndicate.errors"}


def test_modules_and_functions_stay_readable() -> None:
    """Modules under 500 lines; functions under 60, or a comment above the ``def`` saying
    why the function reads best whole."""
    too_long: list[str] = []
    for path in _sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        where = path.relative_to(PACKAGE)
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{where}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            reason = lines[first - 2].strip().startswith(LONG_REASON) if first > 1 else False
            if length > MAX_FUNCTION_LINES and not reason:
                too_long.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
