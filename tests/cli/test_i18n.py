"""The ``syndicate i18n`` commands, run on real copies of the content and catalogs."""

from __future__ import annotations

import gettext
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from click.testing import CliRunner, Result

from syndicate.answers.catalogs import catalog_path, read_catalog
from syndicate.answers.content import load_corpus
from syndicate.answers.localize import Incomplete, localize
from syndicate.answers.translators import mo_path
from syndicate.cli import cli
from tests.support import ROOT

LANGUAGES = ["ar", "de", "es", "fr", "zh-Hans"]
ANSWER = "content/lupus/what-causes-lupus.md"
OLD_HEADING = "The Genetic and Biological Foundation"
NEW_HEADING = "The Genetic and Biological Foundations"

DOSE_ANSWER = """\
---
id: dose-example
condition: Lupus
question: How much is a dose?
reviewed: 2026-04-06
url: https://diseasemaps.example/lupus/dose
---
Take 75 mg twice a day, as the [label](https://example.org/label) says.
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the bundled content and catalogs in ``tmp_path``."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    return tmp_path


def run(project: Path, *args: str) -> Result:
    """Run ``syndicate i18n ARGS`` over ``project``."""
    options = ["--content", str(project / "content"), "--locales", str(project / "locales"),
               "--out", str(project / "public")]
    return CliRunner().invoke(cli, ["i18n", args[0], *options, *args[1:]],
                              env={"SYNDICATE_STATE_DIR": str(project / "state")})


def po(project: Path, language: str) -> Path:
    """The catalog of ``language`` in ``project``."""
    return catalog_path(project / "locales", language)


def line_of(path: Path, start: str) -> int:
    """1-based number of the first line of ``path`` starting with ``start``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.startswith(start))


def edit(path: Path, old: str, new: str) -> None:
    """Change a file the way a person with an editor would."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def translate(path: Path, language: str, translations: dict[str, str]) -> None:
    """Fill in msgstrs by msgid, as a translation tool would."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language.replace("-", "_"))
    for message in catalog:
        if message.id in translations:
            message.string = translations[message.id]
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0)


def add_dose_answer(project: Path) -> Path:
    """Add an answer with a dose and a link, extract, update and translate it into Spanish."""
    (project / "content" / "lupus" / "dose.md").write_text(DOSE_ANSWER, encoding="utf-8")
    assert run(project, "extract").exit_code == 0
    assert run(project, "update").exit_code == 0
    path = po(project, "es")
    translate(path, "es", {
        "How much is a dose?": "¿Cuánto es una dosis?",
        "Take 75 mg twice a day, as the [label](https://example.org/label) says.":
            "Tome 75 mg dos veces al día, como indica el [prospecto](https://example.org/label).",
    })
    assert run(project, "check", "-l", "es").exit_code == 0
    return path


def test_extract_is_stable(project: Path) -> None:
    """Extracting twice with no change leaves the template byte for byte as it was."""
    pot = project / "locales" / "syndicate.pot"
    before = pot.read_bytes()
    result = run(project, "extract")
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output
    assert pot.read_bytes() == before


def test_extract_reads_any_content_folder(tmp_path: Path) -> None:
    """Answers come from --content, interface strings from the installed package."""
    (tmp_path / "answers" / "lupus").mkdir(parents=True)
    (tmp_path / "answers" / "lupus" / "dose.md").write_text(DOSE_ANSWER, encoding="utf-8")
    result = CliRunner().invoke(cli, ["i18n", "extract", "--content", str(tmp_path / "answers"),
                                      "--locales", str(tmp_path / "loc")])
    assert result.exit_code == 0, result.output
    with (tmp_path / "loc" / "syndicate.pot").open("rb") as handle:
        catalog = read_po(handle)
    dose = catalog.get("How much is a dose?", context="dose-example")
    assert dose is not None
    assert dose.locations == [("answers/lupus/dose.md", 4)]
    assert catalog.get("Medically reviewed") is not None


def test_update_marks_changed_paragraph_fuzzy_with_previous_msgid(project: Path) -> None:
    """A changed heading becomes fuzzy with ``#| msgid`` kept, and its language is incomplete."""
    edit(project / ANSWER, f"## {OLD_HEADING}", f"## {NEW_HEADING}")
    assert run(project, "extract").exit_code == 0
    result = run(project, "update")
    assert result.exit_code == 0, result.output
    for language in LANGUAGES:
        text = po(project, language).read_text(encoding="utf-8")
        block = text[text.index(f'#| msgid "{OLD_HEADING}"') - 200:]
        assert "#, fuzzy" in block.split("msgstr")[0]
        assert f'msgid "{NEW_HEADING}"' in block
        answer = load_corpus(project / "content").published[0]
        result_ = localize(answer, read_catalog(po(project, language), language), "DiseaseMaps")
        assert isinstance(result_, Incomplete)
        assert any(reason.endswith(": fuzzy") for reason in result_.reasons)


def test_update_keeps_removed_messages_as_obsolete(project: Path) -> None:
    """A paragraph that left the source stays in the catalog as ``#~`` for reuse."""
    edit(project / ANSWER, "Think of genetics as the", "Consider genetics the")
    text = (project / ANSWER).read_text(encoding="utf-8")
    start = text.index("In medical research")
    (project / ANSWER).write_text(text[:start].rstrip() + "\n", encoding="utf-8")
    assert run(project, "extract").exit_code == 0
    assert run(project, "update", "-l", "de").exit_code == 0
    text = po(project, "de").read_text(encoding="utf-8")
    assert '#~ msgid "In medical research' in text
    assert '#~ msgstr "In der medizinischen Forschung' in text


def test_update_is_idempotent_on_shipped_catalogs(project: Path) -> None:
    """Merging an unchanged template changes no byte."""
    before = {lang: po(project, lang).read_bytes() for lang in LANGUAGES}
    result = run(project, "update")
    assert result.exit_code == 0
    assert result.output.count("unchanged") == len(LANGUAGES)
    assert {lang: po(project, lang).read_bytes() for lang in LANGUAGES} == before


def test_update_skips_a_malformed_catalog_and_updates_the_rest(project: Path) -> None:
    """A broken catalog is reported as file:line and left as it was; the others are merged."""
    edit(project / ANSWER, f"## {OLD_HEADING}", f"## {NEW_HEADING}")
    assert run(project, "extract").exit_code == 0
    broken = po(project, "de")
    line = line_of(broken, 'msgid "Short answer"')
    edit(broken, 'msgid "Short answer"', 'msgid "Short answer')
    before = broken.read_bytes()
    result = run(project, "update")
    assert result.exit_code == 1
    assert f"{broken}:{line}: -: malformed catalog: msgid: unterminated" in result.output
    assert broken.read_bytes() == before
    assert f'msgid "{NEW_HEADING}"' in po(project, "es").read_text(encoding="utf-8")


def test_compile_writes_mo_that_gettext_reads(project: Path) -> None:
    """A clean catalog compiles, and the .mo gives the translations."""
    result = run(project, "compile")
    assert result.exit_code == 0, result.output
    with mo_path(project / "locales", "de").open("rb") as handle:
        translations = gettext.GNUTranslations(handle)
    assert translations.gettext("Medically reviewed") == "Medizinisch geprüft"
    assert translations.pgettext("condition", "Lupus") == "Lupus"


def test_compile_refuses_a_failing_catalog_and_keeps_the_old_mo(project: Path) -> None:
    """A changed dose blocks compile: exit 1, the previous .mo untouched, others compiled."""
    path = add_dose_answer(project)
    assert run(project, "compile").exit_code == 0
    old_mo = mo_path(project / "locales", "es").read_bytes()
    line = line_of(path, 'msgid "Take 75 mg')
    edit(path, "Tome 75 mg", "Tome 7,5 mg")
    result = run(project, "compile")
    assert result.exit_code == 1
    assert (f"{path}:{line}: dose-example (lupus/dose.md): numbers or units differ: source has 75 mg, 2 times; "
            "translation has 7.5 mg, 2 times"
            in result.output)
    assert "es: " in result.output and "refused" in result.output
    assert mo_path(project / "locales", "es").read_bytes() == old_mo
    assert mo_path(project / "locales", "fr").exists()


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("Tome 75 mg", "Tome 7,5 mg", "numbers or units differ: source has 75 mg, 2 times; "
            "translation has 7.5 mg, 2 times"),
        ("[prospecto](https://example.org/label)", "[prospecto](https://example.net/label)",
         "URL https://example.org/label changed or dropped"),
        ("indica el [prospecto]", "indica el <script>alert(1)</script> [prospecto]",
         "HTML <script> is not in the source"),
    ],
)
def test_check_names_file_line_and_context(
    project: Path, old: str, new: str, problem: str
) -> None:
    """Each bad translation is one ``file:line: msgctxt: problem`` line, and exit 1."""
    path = add_dose_answer(project)
    line = line_of(path, 'msgid "Take 75 mg')
    edit(path, old, new)
    result = run(project, "check")
    assert result.exit_code == 1
    assert f"{path}:{line}: dose-example (lupus/dose.md): {problem}" in result.output.splitlines()


def test_check_reports_dropped_placeholder_in_interface_string(project: Path) -> None:
    """Interface strings have no msgctxt: shown as ``-``."""
    path = po(project, "fr")
    line = line_of(path, 'msgid "Last reviewed on {date}"')
    edit(path, 'msgstr "Dernière vérification le {date}"', 'msgstr "Dernière vérification"')
    result = run(project, "check", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["errors"] == 1
    [problem] = report["problems"]
    assert problem["path"] == str(path) and problem["line"] == line
    assert problem["context"] == "-" and problem["problem"] == "placeholder {date} dropped"
    assert problem["language"] == "fr"


def test_check_reports_wrong_plural_forms_header(project: Path) -> None:
    """An Arabic catalog claiming two plural forms differs from CLDR (six): a warning naming
    both rules; the plural message then needs the catalog's two forms."""
    path = po(project, "ar")
    text = path.read_text(encoding="utf-8")
    header = re.search(r'"Plural-Forms: [^"]*"', text)
    assert header is not None
    path.write_text(text.replace(header.group(), '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"')
                    .replace("msgstr[2]", "#msgstr[2]"), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\n#msgstr\[2\].*(\nmsgstr\[\d\].*)*", "", text)
    path.write_text(text, encoding="utf-8")
    result = run(project, "check", "-l", "ar")
    # Arabic's first two forms (zero, one) do not show {n}: with gettext's two forms, no
    # form does; that, not the header, is the error.
    assert result.output.count(": -: warning: ") == 1 and "Plural-Forms header" not in \
        result.output
    line = line_of(path, '"Plural-Forms:')
    assert f"{path}:{line}: -: warning: Plural-Forms is 'nplurals=2; plural=(n != 1);' " \
        "(gettext's rule) while CLDR's rule for ar is 'nplurals=6; plural=(n == 0 ? 0 : " in \
        result.output


def test_check_reports_non_utf8_catalog_and_still_checks_the_others(project: Path) -> None:
    """Non-UTF-8 bytes are a file:line error; the other languages are still checked."""
    path = po(project, "es")
    line = line_of(path, 'msgstr "Respuesta breve"')
    path.write_bytes(path.read_bytes().replace(b"Respuesta breve", b"Respuesta \xe1"))
    result = run(project, "check")
    assert result.exit_code == 1
    assert f"{path}:{line}: -: not UTF-8: byte 0xe1" in result.output
    assert "5 catalogs checked, 1 errors, 0 warnings" in result.output


def test_check_passes_on_shipped_catalogs(project: Path) -> None:
    """The shipped catalogs have no problem at all."""
    result = run(project, "check")
    assert result.exit_code == 0, result.output
    assert "5 catalogs checked, 0 errors, 0 warnings" in result.output


@pytest.mark.slow
def test_status_counts_fuzzy_as_not_translated_unlike_babel(project: Path) -> None:
    """Two fuzzy entries: Babel says 100% translated, status says 2 fuzzy, not publishable."""
    path = po(project, "es")
    edit(path, 'msgctxt "75da64d16c9fcccc"\nmsgid "What causes',
         '#, fuzzy\nmsgctxt "75da64d16c9fcccc"\nmsgid "What causes')
    edit(path, 'msgid "Short answer"', '#, fuzzy\nmsgid "Short answer"')
    babel = subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "compile", "--statistics",
         "-d", str(project / "locales"), "-D", "syndicate", "-l", "es"],
        capture_output=True, text=True, check=True,
    )
    assert "24 of 24 messages (100%) translated" in babel.stdout + babel.stderr
    result = run(project, "status", "-l", "es", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["scope"]: row for row in json.loads(result.output)["rows"]}
    assert (rows["interface"]["translated"], rows["interface"]["fuzzy"]) == (16, 1)
    answer = rows["75da64d16c9fcccc"]
    assert (answer["translated"], answer["fuzzy"], answer["untranslated"]) == (6, 1, 0)
    assert not answer["publishable"] and not rows["interface"]["publishable"]


def test_status_table_shows_every_language_and_answer(project: Path) -> None:
    """People get a table: one row per language for the interface and for each answer."""
    edit(project / ANSWER, f"## {OLD_HEADING}", f"## {NEW_HEADING}")
    assert run(project, "extract").exit_code == 0
    assert run(project, "update", "-l", "de").exit_code == 0
    result = run(project, "status")
    assert result.exit_code == 0, result.output
    summary, _, rest = result.output.partition("\n\n")
    assert summary.splitlines()[0].split() == [
        "language", "answers", "publishable", "blocked", "fuzzy", "untranslated", "failing",
        "needs", "review"]
    assert summary.splitlines()[3].split() == ["de", "1", "0", "1", "1", "0", "0", "6"]
    assert summary.splitlines()[4].split() == ["es", "1", "0", "1", "0", "1", "0", "6"]
    lines = rest.splitlines()
    assert lines[0].split() == ["language", "answer", "translated", "fuzzy", "untranslated",
                                "failing", "publishable"]
    assert len(lines) == 2 + 2 * len(LANGUAGES)
    label = "75da64d16c9fcccc (lupus/what-causes-lupus.md)"
    assert lines[2 + 2].split() == ["de", "interface", "strings", "17", "0", "0", "0", "yes"]
    assert lines[2 + 3].split() == ["de", *label.split(), "6", "1", "0", "0", "no"]
    # Spanish was not updated: the new heading is simply missing from its catalog.
    assert lines[2 + 5].split() == ["es", *label.split(), "6", "0", "1", "0", "no"]
    todo = run(project, "status", "--todo", "es")
    assert todo.exit_code == 0
    heading = line_of(project / ANSWER, f"## {NEW_HEADING}")
    assert todo.output.splitlines() == [
        f"{project / ANSWER}:{heading}: {label}: missing from the catalog (run "
        f"syndicate i18n extract and update): '{NEW_HEADING}'"]
    de_line = line_of(po(project, "de"), f'msgid "{NEW_HEADING}"')
    assert run(project, "status", "--todo", "de").output.splitlines() == [
        f"{po(project, 'de')}:{de_line}: {label}: fuzzy: '{NEW_HEADING}'"]


def test_status_of_malformed_catalog_names_file_and_line(project: Path) -> None:
    """A catalog that cannot be read is reported, and its language is not publishable."""
    path = po(project, "fr")
    line = line_of(path, 'msgid "Short answer"')
    edit(path, 'msgid "Short answer"', 'msgid "Short answer')
    result = run(project, "status", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["errors"] == [f"{path}:{line}: malformed catalog: msgid: unterminated or "
                                "badly quoted string"]
    fr_rows = [row for row in report["rows"] if row["language"] == "fr"]
    assert fr_rows and not any(row["publishable"] for row in fr_rows)
    assert all(row["publishable"] for row in report["rows"] if row["language"] != "fr")


@pytest.mark.parametrize("command", ["init", "extract", "update", "compile", "status", "check"])
def test_every_i18n_command_has_help_with_example_and_docs(command: str) -> None:
    """Each command explains itself with an example and is documented for translators."""
    result = CliRunner().invoke(cli, ["i18n", command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"syndicate i18n {command}" in result.output
    assert "--locales" in result.output
    docs = (ROOT / "docs" / "translators.md").read_text(encoding="utf-8")
    assert f"syndicate i18n {command}" in docs


@pytest.mark.parametrize("command", ["update", "check", "compile", "status"])
@pytest.mark.parametrize("tag", ["../evil", "de/../../evil", "/tmp/evil", "de\x00", "de\\..\\evil"])
def test_language_options_that_leave_the_locales_folder_are_refused(
    project: Path, command: str, tag: str
) -> None:
    """``-l ../evil`` names no folder: the command says so and touches nothing outside."""
    outside = project / "evil" / "LC_MESSAGES" / "syndicate.po"
    outside.parent.mkdir(parents=True)
    shutil.copy(catalog_path(project / "locales", "de"), outside)
    before = outside.read_bytes()
    result = run(project, command, "-l", tag)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "is not a language tag" in result.output
    assert outside.read_bytes() == before
    assert not outside.with_suffix(".mo").exists()
