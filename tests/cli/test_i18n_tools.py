"""Catalogs written by ``syndicate i18n`` are read by the translators' own tools.

GNU gettext (``msgfmt --check``, ``msgcat``, ``msgattrib``), polib, translate-toolkit
(``pocount``, ``pofilter``) and Babel read every catalog after extract/update cycles that edit,
add, remove and reorder paragraphs, change a plural message and leave fuzzy matches. gettext
is required under CI (``SYNDICATE_REQUIRE_GETTEXT=1``, set by ``.ci/run`` which installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from babel.messages.pofile import read_po

from syndicate.answers import translators
from tests.cli.test_i18n import ANSWER, DOSE_ANSWER, LANGUAGES, edit, po, project, run

__all__ = ["project"]

BIN = Path(sys.executable).parent


def gettext_tool(name: str) -> str:
    """The path of a GNU gettext program; skip when absent, fail under CI."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("SYNDICATE_REQUIRE_GETTEXT") == "1":
            pytest.fail(f"{name} is not installed (SYNDICATE_REQUIRE_GETTEXT=1)")
        pytest.skip(f"{name} (GNU gettext) is not installed")
    return found


def assert_tools_read(path: Path) -> None:
    """Every tool a translator's pipeline uses reads ``path`` without an error."""
    for command in (
        [gettext_tool("msgfmt"), "--check", "-o", os.devnull, str(path)],
        [gettext_tool("msgcat"), "-o", os.devnull, str(path)],
        [gettext_tool("msgattrib"), "--only-fuzzy", "-o", os.devnull, str(path)],
        [str(BIN / "pocount"), str(path)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command[0]}: {done.stderr}"
        assert "error" not in done.stderr.lower(), f"{command[0]}: {done.stderr}"
    polib.pofile(str(path))  # raises on anything it cannot read
    with path.open("rb") as handle:
        read_po(handle, abort_invalid=True)
    out = path.with_suffix(".pofilter.po")
    done = subprocess.run(
        [str(BIN / "pofilter"), "--progress=none", "-t", "printf", "-t", "variables",
         str(path), str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr and "Traceback" not in done.stderr, done.stderr


PARAGRAPH = "Researchers continue to study how these factors interact."


def cycle(project: Path) -> None:
    assert run(project, "extract").exit_code == 0
    result = run(project, "update")
    assert result.exit_code == 0, result.output


def test_catalogs_survive_edit_add_remove_reorder_cycles(project: Path) -> None:
    answer = project / ANSWER
    edit(answer, "The exact cause of Lupus", "The precise cause of Lupus")
    cycle(project)
    for language in LANGUAGES:
        text = po(project, language).read_text(encoding="utf-8")
        previous = [line for line in text.splitlines() if line.startswith("#|")]
        assert previous and all(line.endswith('"') for line in previous), previous
        assert_tools_read(po(project, language))
    # a second edit of the same paragraph: the previous msgid stays the translated text
    edit(answer, "The precise cause of Lupus", "The real cause of Lupus")
    text = answer.read_text(encoding="utf-8")
    text = text.rstrip("\n") + "\n\n" + PARAGRAPH + "\n"
    answer.write_text(text, encoding="utf-8")
    cycle(project)
    cycle(project)  # a cycle with nothing new changes nothing and keeps the files readable
    es = po(project, "es").read_text(encoding="utf-8")
    assert '#| msgid "The exact cause of Lupus' in es
    assert "# | msgid" not in es
    for language in LANGUAGES:
        assert_tools_read(po(project, language))
    # remove the new paragraph and reorder two blocks
    text = answer.read_text(encoding="utf-8").replace("\n\n" + PARAGRAPH + "\n", "\n")
    blocks = text.split("\n\n")
    blocks[-1], blocks[-2] = blocks[-2], blocks[-1]
    answer.write_text("\n\n".join(blocks), encoding="utf-8")
    cycle(project)
    for language in LANGUAGES:
        catalog = polib.pofile(str(po(project, language)))
        assert any(entry.obsolete for entry in catalog)
        assert_tools_read(po(project, language))


def test_a_changed_plural_message_stays_readable(project: Path) -> None:
    ui = Path(translators.__file__).with_name("ui.py")
    package = project / "syndicate"
    shutil.copytree(ui.parent.parent, package)
    edit(package / "answers" / "ui.py", "has shared their first-person experience",
         "has shared a first-person experience")
    out = project / "locales" / "syndicate.pot"
    from syndicate._time import utc_now
    translators.extract_template(project / "content", out, now=utc_now(), package_dir=package)
    outcomes = translators.update_catalogs(project / "locales", LANGUAGES)
    assert {o.action for o in outcomes} == {"written"}
    for language in LANGUAGES:
        catalog = polib.pofile(str(po(project, language)))
        plural = [e for e in catalog if e.msgid_plural and "fuzzy" in e.flags]
        assert plural and plural[0].previous_msgid_plural, language
        assert_tools_read(po(project, language))


def test_bundled_catalogs_and_template_are_read_by_the_tools() -> None:
    from tests.support import ROOT
    assert_tools_read(ROOT / "locales" / "syndicate.pot")
    for language in LANGUAGES:
        assert_tools_read(po(ROOT, language))


BROKEN = '''\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: de\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

#, fuzzy
#| msgid "The exact cause of Lupus, specifically Systemic Lupus Erythematosus
#| (SLE), is not fully understood."
msgctxt "condition"
msgid "Lupus"
msgstr "Lupus"

#~ msgid "gone
#~ msgstr "weg"
'''


def test_check_is_as_strict_as_msgfmt_and_lists_every_syntax_error(project: Path) -> None:
    path = po(project, "de")
    path.write_text(BROKEN, encoding="utf-8")
    done = subprocess.run([gettext_tool("msgfmt"), "--check", "-o", os.devnull, str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0
    result = run(project, "check", "-l", "de")
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        f"{path}:8: -: malformed catalog: #| msgid: unterminated or badly quoted string",
        f"{path}:9: -: malformed catalog: #| line: unknown keyword '(SLE),'",
        f"{path}:14: -: malformed catalog: #~ msgid: unterminated or badly quoted string",
    ]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_files_written_follow_the_umask(project: Path, umask: int) -> None:
    edit(project / ANSWER, "The exact cause of Lupus", "The precise cause of Lupus")
    old = os.umask(umask)
    try:
        cycle(project)
        assert run(project, "compile", "-l", "es").exit_code == 0
        written = [project / "locales" / "syndicate.pot", po(project, "es"),
                   po(project, "de"), translators.mo_path(project / "locales", "es")]
    finally:
        os.umask(old)
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o644 & ~umask, path


def test_adding_a_language_is_one_command(project: Path) -> None:
    result = run(project, "update", "-l", "pt")
    assert result.exit_code == 1
    path = po(project, "pt")
    assert f"{path}: -: no catalog for pt yet: add the language with " \
           "`syndicate i18n init pt`" in result.output
    result = run(project, "init", "pt")
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert '"Language: pt\\n"' in text
    assert '"Plural-Forms: nplurals=3; plural=(n == 0 || n == 1) ? 0 : n != 0 && ' \
           'n % 1000000 == 0 ? 1 : 2;\\n"' in text
    assert "#, fuzzy\nmsgid \"\"" not in text and "EMAIL@ADDRESS" not in text
    assert_tools_read(path)
    assert run(project, "check", "-l", "pt").exit_code == 0
    again = run(project, "init", "pt")
    assert again.exit_code == 1 and "pt has a catalog already" in again.output


@pytest.mark.parametrize("language", ["pt", "es", "fr"])
def test_catalogs_made_by_msginit_are_accepted(project: Path, language: str) -> None:
    """gettext's msginit writes nplurals=2 where CLDR has 3: a warning, not a refusal."""
    path = po(project, language)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    done = subprocess.run(
        [gettext_tool("msginit"), "--no-translator", "-l", language, "-i",
         str(project / "locales" / "syndicate.pot"), "-o", str(path)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = run(project, "check", "-l", language)
    assert result.exit_code == 0, result.output
    assert "warning: Plural-Forms is 'nplurals=2;" in result.output
    assert run(project, "update", "-l", language).exit_code == 0
    assert_tools_read(path)


def test_every_interface_string_carries_context_for_translators(project: Path) -> None:
    """Each interface string reaches the template with its ``#.`` comment (from the
    ``# Translators:`` comment above the call), and the bundled template is up to date."""
    assert run(project, "extract").exit_code == 0
    template = polib.pofile(str(project / "locales" / "syndicate.pot"))
    from syndicate.answers.status import interface_keys
    interface = {msgid for _, msgid in interface_keys()}
    entries = [e for e in template if e.msgid in interface]
    assert len(entries) == len(interface) == 17
    for entry in entries:
        assert entry.comment and not entry.comment.startswith("Translators:"), entry.msgid
    badge = next(e for e in entries if e.msgid == "Medically reviewed")
    assert badge.comment == ("Badge shown on every answer: a clinician has reviewed the source "
                             "text.")
    from tests.support import ROOT
    bundled = polib.pofile(str(ROOT / "locales" / "syndicate.pot"))
    assert {e.msgid: e.comment for e in bundled} == {e.msgid: e.comment for e in template}


def test_status_keeps_checked_catalogs_until_they_change(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from syndicate.answers import catalog_cache
    first = run(project, "status", "--json")
    assert first.exit_code == 0
    assert sorted(p.name for p in (project / "state" / "i18n-cache").iterdir()) == [
        "answers.json", "ar.checks.json", "ar.json", "de.checks.json", "de.json",
        "es.checks.json", "es.json", "fr.checks.json", "fr.json", "zh_Hans.checks.json",
        "zh_Hans.json"]

    def unread(*args: object, **kwargs: object) -> None:
        raise AssertionError("the catalog was read again")
    monkeypatch.setattr(catalog_cache, "read_catalog", unread)
    again = run(project, "status", "--json")
    assert again.exit_code == 0 and again.output == first.output
    edit(po(project, "de"), 'msgstr "Kurze Antwort"', 'msgstr ""')
    changed = run(project, "status", "--json")
    assert isinstance(changed.exception, AssertionError)  # de is read again, not the cache
    monkeypatch.undo()
    import json
    report = json.loads(run(project, "status", "--json", "-l", "de").output)
    assert report["languages"][0]["blocked"] == 1
    assert report["todo"][0]["reason"] == "untranslated"
    # a catalog saved again is checked only where its messages changed
    from syndicate.answers import checks
    calls: list[object] = []
    real = checks.check_message

    def counted(*args: object, **kwargs: object) -> list[str]:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(checks, "check_message", counted)
    edit(po(project, "fr"), 'msgstr "Les fondements génétiques et biologiques"',
         'msgstr "Fondements génétiques et biologiques"')
    assert run(project, "status", "--json", "-l", "fr").exit_code == 0
    assert len(calls) == 1, calls
    monkeypatch.undo()
    # a changed answer file is read again too
    (project / "content" / "lupus" / "dose.md").write_text(DOSE_ANSWER, encoding="utf-8")
    report = json.loads(run(project, "status", "--json", "-l", "de").output)
    assert report["languages"][0]["answers"] == 2


HEADER = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
          '"Language: de\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n')
MSGFMT_REFUSES = {
    "no header": ('msgid "Lupus"\nmsgstr "Lupus"\n',
                  '1: -: the catalog has no header entry (msgid "" first, with Content-Type '
                  'and Language): gettext tools refuse it'),
    "newline at the end": (HEADER + 'msgid "a\\n"\nmsgstr "b"\n',
                           "7: -: 'msgid' and 'msgstr' entries do not both end with '\\n'"),
    "newline at the start": (HEADER + 'msgid "a"\nmsgstr "\\nb"\n',
                             "7: -: 'msgid' and 'msgstr' entries do not both begin with '\\n'"),
    "unterminated": (HEADER + 'msgid "a\nmsgstr "b"\n',
                     "7: -: malformed catalog: msgid: unterminated or badly quoted string"),
    "duplicate": (HEADER + 'msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n',
                  "10: -: malformed catalog: duplicate of the message at line 7"),
    "plural rule": (HEADER.replace("(n != 1)", "(n/0)") + 'msgid "a"\nmsgstr "b"\n',
                    "5: -: invalid Plural-Forms header: plural=(n/0) fails for n=0 (division "
                    "by zero); expected a line like \"Plural-Forms: nplurals=2; "
                    "plural=(n != 1);\\n\""),
    "broken obsolete entry": (HEADER + '#~ msgid "gone\n#~ msgstr "weg"\n',
                              "7: -: malformed catalog: #~ msgid: unterminated or badly "
                              "quoted string"),
}


@pytest.mark.parametrize("case", list(MSGFMT_REFUSES))
def test_what_msgfmt_refuses_check_refuses_too(project: Path, case: str) -> None:
    text, expected = MSGFMT_REFUSES[case]
    path = po(project, "de")
    path.write_text(text, encoding="utf-8")
    done = subprocess.run([gettext_tool("msgfmt"), "--check", "-o", os.devnull, str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0, case
    result = run(project, "check", "-l", "de")
    assert result.exit_code == 1
    assert f"{path}:{expected}" in result.output.splitlines(), result.output
