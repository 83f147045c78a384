"""Plural rules are tried when a catalog is read; gettext's rules are accepted with a warning.

A rule that raises, picks a form the catalog lacks or is absurdly long is refused with the
line of its ``Plural-Forms`` header and the line expected; the language is left out of the
build (it keeps what it last published) and every other language still publishes.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from syndicate.answers.catalogs import catalog_path, read_catalog
from syndicate.answers.translators import check_language
from syndicate.build import build
from syndicate.config import load_settings
from syndicate.errors import CatalogError
from tests.support import ROOT

DE_RULE = '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"'
DE_EXPECTED = '; expected a line like "Plural-Forms: nplurals=2; plural=(n != 1);\\n"'


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    return tmp_path / "locales"


def with_rule(locales: Path, language: str, rule: str) -> tuple[Path, int]:
    """Put ``rule`` in the Plural-Forms header of ``language``; the path and header line."""
    path = catalog_path(locales, language)
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'"Plural-Forms: [^"]*"', f'"Plural-Forms: {rule}\\\\n"', text, count=1)
    path.write_text(text, encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith('"Plural-Forms'))
    return path, line


@pytest.mark.parametrize(("rule", "problem"), [
    ("nplurals=2; plural=(n/0);", "plural=(n/0) fails for n=0 (division by zero)"),
    ("nplurals=2; plural=(n%0);", "plural=(n%0) fails for n=0 (division by zero)"),
    ("nplurals=2; plural=(n > 1 ? 2 : 0);", "plural=(n > 1 ? 2 : 0) gives form 2 for n=2, "
                                             "but nplurals=2"),
    ("nplurals=2; plural=(n - 5);", "plural=(n - 5) gives form -5 for n=0, but nplurals=2"),
    ("nplurals=2; plural=(n == 1000000 ? 2 : n != 1);",
     "plural=(n == 1000000 ? 2 : n != 1) gives form 2 for n=1000000, but nplurals=2"),
    ("nplurals=0; plural=0;", "nplurals=0 (a language has 1 to 6 forms)"),
    ("nplurals=9; plural=(n % 9);", "nplurals=9 (a language has 1 to 6 forms)"),
    ("nplurals=2; plural=" + "(n != 1) && " * 30 + "1;",
     "plural expression longer than 300 characters"),
])
def test_a_bad_plural_rule_is_refused_with_its_line(
        locales: Path, rule: str, problem: str) -> None:
    path, line = with_rule(locales, "de", rule)
    with pytest.raises(CatalogError) as caught:
        read_catalog(path, "de")
    assert str(caught.value) == (
        f"{path}:{line}: invalid Plural-Forms header: {problem}{DE_EXPECTED}")
    assert [str(p) for p in check_language(locales, "de")] == [str(caught.value).replace(
        ": invalid", ": -: invalid", 1)]


def test_gettext_rules_differing_from_cldr_are_accepted_with_a_warning(locales: Path) -> None:
    """msginit writes nplurals=2 for Spanish, French and Portuguese; CLDR says 3."""
    path, line = with_rule(locales, "fr", "nplurals=2; plural=(n > 1);")
    text = path.read_text(encoding="utf-8")
    # the translator's tool filled the two forms gettext's rule has
    text = re.sub(r'(msgstr\[1\] "[^"]*")\nmsgstr\[2\] "[^"]*"', r"\1", text)
    path.write_text(text, encoding="utf-8")
    catalog = read_catalog(path, "fr")
    plural = next(e for e in catalog.entries.values() if len(e.source) > 1)
    assert plural.usable and catalog.plural_count == 2 and catalog.plural(2) == 1
    problems = check_language(locales, "fr")
    assert [str(p) for p in problems] == [
        f"{path}:{line}: -: warning: Plural-Forms is 'nplurals=2; plural=(n > 1);' "
        "(gettext's rule) while CLDR's rule for fr is 'nplurals=3; plural=(n == 0 || n == 1) "
        "? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2;': the catalog's rule is used, so its "
        "plural messages need 2 forms"]


def test_the_bundled_rules_agree_with_cldr_and_raise_no_warning() -> None:
    for language in ("ar", "de", "es", "fr", "zh-Hans"):
        assert check_language(ROOT / "locales", language) == [], language


def test_one_bad_plural_rule_never_stops_the_other_languages(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    settings = load_settings(overrides={
        "content_dir": tmp_path / "content", "locales_dir": tmp_path / "locales",
        "out_dir": tmp_path / "public", "state_dir": tmp_path / "state",
        "base_url": "https://feeds.example.org"})
    first = build(settings)
    assert (tmp_path / "public" / "de").is_dir()
    de_files = {p: p.read_bytes() for p in (tmp_path / "public" / "de").rglob("*")
                if p.is_file()}
    path, line = with_rule(tmp_path / "locales", "de", "nplurals=2; plural=(n/0);")
    outcome = build(settings)
    assert f"{path}:{line}: invalid Plural-Forms header: plural=(n/0) fails for n=0 " \
           f"(division by zero){DE_EXPECTED}" in outcome.errors
    assert len(outcome.errors) == 1
    for language in ("ar", "es", "fr", "zh-Hans"):
        assert (tmp_path / "public" / language / "feed.json").is_file(), language
    # German keeps exactly what it last published
    assert {p: p.read_bytes() for p in de_files} == de_files
    assert first.result is not None
