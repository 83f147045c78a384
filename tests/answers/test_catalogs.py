"""Catalogs: the shipped translations, strict reading, and what localization makes of them."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.answers import status as progress
from syndicate.answers import translators as i18n
from syndicate.answers.catalogs import (
    LanguageCatalog,
    babel_locale,
    catalog_path,
    check_language_tag,
    discover_languages,
    expected_plural_count,
    message_keys,
    read_catalog,
)
from syndicate.answers.content import Answer, load_corpus
from syndicate.answers.localize import Incomplete, Rendition, localize
from syndicate.errors import CatalogError
from tests.support import ROOT

LANGUAGES = ["ar", "de", "es", "fr", "zh-Hans"]
ANSWER_ID = "75da64d16c9fcccc"
SECOND_PARAGRAPH = "While Lupus is not caused by a single gene mutation"


@pytest.fixture
def answer() -> Answer:
    """The bundled answer."""
    return load_corpus(ROOT / "content").published[0]


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    """A copy of the shipped catalogs, free to damage."""
    return Path(shutil.copytree(ROOT / "locales", tmp_path / "locales"))


def shipped(language: str) -> LanguageCatalog:
    """The shipped catalog of ``language``."""
    return read_catalog(catalog_path(ROOT / "locales", language), language)


def line_of(path: Path, start: str) -> int:
    """1-based number of the first line of ``path`` starting with ``start``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(start):
            return number
    raise AssertionError(f"{start!r} not in {path}")


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit a catalog as a translator would, in a text editor."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_shipped_entry_is_usable(language: str, answer: Answer) -> None:
    """Every message of the answer and every interface string is translated and passes."""
    catalog = shipped(language)
    for key in [*message_keys(answer), *progress.interface_keys()]:
        assert catalog.usable(key) is not None, (key, catalog.why_not(key))
    assert all(entry.usable for entry in catalog.entries.values())


@pytest.mark.parametrize(("language", "forms"),
                         [("ar", 6), ("de", 2), ("es", 3), ("fr", 3), ("zh-Hans", 1)])
def test_shipped_catalogs_have_the_cldr_number_of_plural_forms(language: str, forms: int) -> None:
    """Plural-Forms headers agree with Babel's CLDR data, and the plural entry fills them all."""
    catalog = shipped(language)
    assert catalog.plural_count == forms == expected_plural_count(catalog.locale)
    plurals = [e for e in catalog.entries.values() if len(e.source) > 1]
    assert plurals and all(len(e.strings) == forms for e in plurals)


@pytest.mark.parametrize("language", LANGUAGES)
def test_bundled_answer_localizes_completely(language: str, answer: Answer) -> None:
    """Each shipped language gives a complete rendition, right to left for Arabic."""
    rendition = localize(answer, shipped(language), "DiseaseMaps")
    assert isinstance(rendition, Rendition), rendition
    assert rendition.direction == ("rtl" if language == "ar" else "ltr")
    assert rendition.labels.experiences is not None
    assert "15" in rendition.labels.experiences
    assert "100" in rendition.body_html


def test_shipped_headers_are_filled_in() -> None:
    """No template placeholders or fuzzy header left in a shipped catalog."""
    for language in LANGUAGES:
        text = catalog_path(ROOT / "locales", language).read_text(encoding="utf-8")
        assert "PO-Revision-Date: 2026-" in text
        assert "Last-Translator: DiseaseMaps translators" in text
        assert "FULL NAME" not in text and "EMAIL@ADDRESS" not in text
        assert not text.startswith("#, fuzzy") and "\n#, fuzzy\nmsgid \"\"" not in text


def test_malformed_catalog_names_file_and_line(locales: Path) -> None:
    """An unterminated string, which Babel alone accepts, is a CatalogError at its line."""
    path = catalog_path(locales, "de")
    line = line_of(path, 'msgid "Short answer"')
    replace_in(path, 'msgid "Short answer"', 'msgid "Short answer')
    with pytest.raises(CatalogError) as caught:
        read_catalog(path, "de")
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert str(caught.value).startswith(f"{path}:{line}: malformed catalog")


def test_msgid_without_msgstr_is_malformed(locales: Path) -> None:
    """A message whose msgstr was deleted is reported at its msgid line."""
    path = catalog_path(locales, "es")
    line = line_of(path, 'msgid "Short answer"')
    replace_in(path, 'msgstr "Respuesta breve"\n', "")
    with pytest.raises(CatalogError, match="no msgstr") as caught:
        read_catalog(path, "es")
    assert caught.value.line == line


def test_duplicate_message_is_malformed(locales: Path) -> None:
    """The same message twice is ambiguous: msgfmt refuses it, so do we."""
    path = catalog_path(locales, "fr")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '\nmsgid "Short answer"\nmsgstr "Réponse"\n', encoding="utf-8")
    with pytest.raises(CatalogError, match="duplicate of the message at line") as caught:
        read_catalog(path, "fr")
    assert caught.value.line == len(text.splitlines()) + 2


def test_non_utf8_bytes_name_file_and_line(locales: Path) -> None:
    """A Latin-1 byte in a UTF-8 catalog is reported with its line."""
    path = catalog_path(locales, "es")
    line = line_of(path, 'msgstr "Respuesta breve"')
    data = path.read_bytes().replace(b'msgstr "Respuesta breve"', b'msgstr "Respuesta \xe1"')
    path.write_bytes(data)
    with pytest.raises(CatalogError, match="not UTF-8: byte 0xe1") as caught:
        read_catalog(path, "es")
    assert caught.value.line == line


def test_too_few_plural_forms_make_the_entry_unusable(locales: Path, answer: Answer) -> None:
    """Arabic needs six forms; an entry with two is refused, and so is the rendition."""
    path = catalog_path(locales, "ar")
    text = path.read_text(encoding="utf-8")
    start = text.index("msgstr[2]")
    end = text.index("\n\n", start)
    path.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    catalog = read_catalog(path, "ar")
    plural = next(e for e in catalog.entries.values() if len(e.source) > 1)
    assert not plural.usable
    assert plural.problems == ("plural has 2 forms, ar needs exactly 6",)
    assert isinstance(localize(answer, catalog, "DiseaseMaps"), Incomplete)


def test_too_many_plural_forms_name_the_line(locales: Path) -> None:
    """German has two forms: a third is a CatalogError at the message."""
    path = catalog_path(locales, "de")
    line = line_of(path, 'msgid "{n} person')
    text = path.read_text(encoding="utf-8")
    start = text.index("msgstr[1]")
    end = text.index("\n", start)
    path.write_text(text[: end + 1] + 'msgstr[2] "drei"\n' + text[end + 1 :], encoding="utf-8")
    with pytest.raises(CatalogError, match="more forms than the Plural-Forms header") as caught:
        read_catalog(path, "de")
    assert caught.value.line == line


def test_a_plural_forms_header_other_than_cldrs_is_the_one_used(locales: Path) -> None:
    """A valid Plural-Forms that differs from CLDR is the catalog's rule (``i18n check`` warns,
    see tests/answers/test_plurals.py): its entries need that many forms."""
    path = catalog_path(locales, "zh-Hans")
    replace_in(path, "nplurals=1; plural=0;", "nplurals=2; plural=(n != 1);")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('msgstr[0] "已有', 'msgstr[0] "已有', 1).replace(
        "分享了亲身经历。\"\n", "分享了亲身经历。\"\nmsgstr[1] \"已有 {n} 位{condition}患者在 "
        "{publisher} 上就此问题分享了亲身经历。\"\n", 1), encoding="utf-8")
    catalog = read_catalog(path, "zh-Hans")
    plural = next(e for e in catalog.entries.values() if len(e.source) > 1)
    assert plural.usable and catalog.plural_count == 2 and catalog.plural(2) == 1


def test_injected_script_is_refused_and_never_rendered(locales: Path, answer: Answer) -> None:
    """A <script> or javascript: link in a translation blocks it; sanitizing is a second wall."""
    path = catalog_path(locales, "es")
    replace_in(path, 'msgstr "La base genética y biológica"',
               'msgstr "La base genética <script>alert(1)</script> '
               '<img src=x onerror=alert(2)> [y](javascript:alert(3)) biológica"')
    catalog = read_catalog(path, "es")
    result = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(result, Incomplete)
    assert any("HTML <script> is not in the source" in reason for reason in result.reasons)
    # Even if the checks had let it through, nothing executable reaches the HTML: at most
    # the escaped text of the attempt.
    entries = {key: dataclasses.replace(e, problems=()) for key, e in catalog.entries.items()}
    forced = localize(answer, dataclasses.replace(catalog, entries=entries), "DiseaseMaps")
    assert isinstance(forced, Rendition)
    html = forced.body_html + forced.content_html
    for bad in ("<script", "<img", 'href="javascript:'):
        assert bad not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_fuzzy_translation_is_not_published(locales: Path, answer: Answer) -> None:
    """A fuzzy entry, however good its text, makes the rendition incomplete."""
    path = catalog_path(locales, "fr")
    replace_in(path, 'msgctxt "75da64d16c9fcccc"\nmsgid "The Genetic',
               '#, fuzzy\nmsgctxt "75da64d16c9fcccc"\nmsgid "The Genetic')
    result = localize(answer, read_catalog(path, "fr"), "DiseaseMaps")
    assert isinstance(result, Incomplete)
    assert result.reasons == (
        f"line 12: {'The Genetic and Biological Foundation'!r}: fuzzy",
    )


def test_project_mapping_is_babel_cfg() -> None:
    """``syndicate i18n extract`` uses the very mapping of the project's babel.cfg."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        from_file = parse_mapping_cfg(handle)
    assert from_file == parse_mapping_cfg(__import__("io").StringIO(i18n.MAPPING_CFG))


def test_shipped_template_is_what_extract_writes(tmp_path: Path) -> None:
    """Extracting the bundled content reproduces locales/syndicate.pot byte for byte."""
    out = tmp_path / "syndicate.pot"
    shutil.copy(ROOT / "locales" / "syndicate.pot", out)
    import datetime as dt

    assert not i18n.extract_template(ROOT / "content", out, now=dt.datetime.now(dt.UTC))
    assert out.read_bytes() == (ROOT / "locales" / "syndicate.pot").read_bytes()


@pytest.mark.slow
def test_pybabel_extract_with_babel_cfg_gives_context_and_comments(tmp_path: Path) -> None:
    """Plain ``pybabel extract -F babel.cfg`` finds the answers through the entry point."""
    out = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [str(pybabel), "extract", "-F", "babel.cfg", "--no-wrap", "-o", str(out), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with out.open("rb") as handle:
        catalog = read_po(handle)
    paragraph = next(m for m in catalog if str(m.id).startswith(SECOND_PARAGRAPH))
    assert paragraph.context == ANSWER_ID
    assert paragraph.auto_comments == [
        "Answer: What causes Lupus?",
        "Section: The Genetic and Biological Foundation (paragraph)",
    ]
    assert paragraph.locations == [("content/lupus/what-causes-lupus.md", 14)]
    condition = catalog.get("Lupus", context="condition")
    assert condition is not None
    assert catalog.get("Last reviewed on {date}") is not None
    with (ROOT / "locales" / "syndicate.pot").open("rb") as handle:
        shipped_template = read_po(handle)
    assert [(m.context, m.id) for m in catalog] == [(m.context, m.id) for m in shipped_template]


def test_quoted_string_pattern_is_the_strict_one() -> None:
    """The unrolled pattern accepts exactly the strings the plain one did."""
    import re

    from syndicate.answers._po import _QUOTED

    plain = re.compile(r'^"(?:[^"\\]|\\.)*"$')

    @settings(max_examples=500)
    @given(st.text(alphabet=st.sampled_from(list('"\\ab n\t\u00e9')), max_size=20))
    def agree(line: str) -> None:
        assert bool(_QUOTED.fullmatch(line)) == bool(plain.match(line))

    agree()


# -- hostile input: any .po text, mutated catalogs, fuzzy entries, language tags -------------

SHIPPED_DE = (ROOT / "locales" / "de" / "LC_MESSAGES" / "syndicate.po").read_text("utf-8")
_PO_PIECES = st.sampled_from([
    "msgid ", "msgstr ", "msgctxt ", "msgid_plural ", "msgstr[0] ", "msgstr[1] ", "msgstr[7] ",
    '"', '""', '"x"', "\\", "\\n", '\\"', "#, fuzzy", "#~ ", "#| msgid ", "\n", "\n\n", " ",
    '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"', '"Plural-Forms: nplurals=x; plural=(;\\n"',
    '"Content-Type: text/plain; charset=latin-1\\n"', '"Plural-Forms: nplurals=2; plural=(n != 1;\\n"', '"Language: x-@\\n"', "{n}", "<b>", "\x00", "\ufeff", "é",
])
_PO_TEXT = st.one_of(
    st.lists(_PO_PIECES, max_size=40).map("".join),
    st.text(max_size=200),
)


def assert_reads_or_located_error(path: Path, language: str = "de") -> LanguageCatalog | None:
    """Read ``path``: a catalog, or a CatalogError naming the file (and a line for syntax)."""
    try:
        return read_catalog(path, language)
    except CatalogError as exc:
        assert exc.path == str(path)
        assert str(exc).startswith(f"{path}:{exc.line}: ")
        assert exc.line >= 1, str(exc)
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_PO_TEXT)
def test_any_po_text_gives_a_catalog_or_a_located_error(tmp_path: Path, text: str) -> None:
    """Arbitrary text in a .po file never raises anything but CatalogError."""
    path = tmp_path / "syndicate.po"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    assert_reads_or_located_error(path)


_MUTATION = st.tuples(
    st.sampled_from(["delete", "duplicate", "swap", "insert", "truncate", "bytes"]),
    st.integers(0, 10_000), st.integers(0, 10_000), _PO_PIECES | st.text(max_size=5),
)


def mutate(text: str, mutations: list[tuple[str, int, int, str]]) -> bytes:
    """Apply line- and character-level damage to a catalog's text."""
    lines = text.split("\n")
    for kind, a, b, piece in mutations:
        i, j = a % len(lines), b % len(lines)
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[j])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            line = lines[i]
            cut = b % (len(line) + 1)
            lines[i] = line[:cut] + piece + line[cut:]
        elif kind == "truncate":
            lines[i] = lines[i][: b % (len(lines[i]) + 1)]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if any(kind == "bytes" for kind, *_ in mutations):
        data = data[: mutations[0][1] % (len(data) + 1)] + b"\xff\xfe" + data[mutations[0][1] % (len(data) + 1):]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_shipped_catalog_gives_a_catalog_or_a_located_error(
    tmp_path: Path, mutations: list[tuple[str, int, int, str]]
) -> None:
    """The real German catalog, damaged anywhere, is read or refused with file and line."""
    path = tmp_path / "syndicate.po"
    path.write_bytes(mutate(SHIPPED_DE, mutations))
    catalog = assert_reads_or_located_error(path)
    if catalog is not None:
        for entry in catalog.entries.values():
            assert not (entry.fuzzy and entry.usable)


_MSG = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.dictionaries(st.tuples(st.sampled_from(["condition", "a1", "b2"]), _MSG),
                               st.tuples(_MSG | st.just(""), st.booleans()), min_size=1, max_size=8))
def test_fuzzy_entries_are_never_usable(
    tmp_path: Path, entries: dict[tuple[str, str], tuple[str, bool]]
) -> None:
    """Whatever the text, a fuzzy entry is never published (usable is None, why_not says so)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalog = Catalog(locale="de", domain="syndicate")
    for (context, msgid), (msgstr, fuzzy) in entries.items():
        catalog.add(msgid, msgstr, context=context, flags=("fuzzy",) if fuzzy else ())
    path = tmp_path / "syndicate.po"
    with path.open("wb") as handle:
        write_po(handle, catalog)
    read = assert_reads_or_located_error(path)
    assert read is not None
    for (context, msgid), (msgstr, fuzzy) in entries.items():
        if fuzzy:
            assert read.usable((context, msgid)) is None
            if msgstr:
                assert read.why_not((context, msgid)) == "fuzzy"


HOSTILE_TAGS = ["../de", "..", "de/../../x", "/etc", "de\x00", "de\\..\\x", "de\n", "\u2024\u2024",
                "\uff0e\uff0e", "de_DE/..", "", "d", "de-", "de--DE", "DE", "de DE", "zh-Hans\n"]


@pytest.mark.parametrize("tag", HOSTILE_TAGS)
def test_hostile_language_tags_are_refused_before_any_path_is_made(tag: str, tmp_path: Path) -> None:
    """catalog_path and babel_locale refuse anything that is not a plain language tag."""
    with pytest.raises(CatalogError, match="is not a language tag"):
        check_language_tag(tag)
    with pytest.raises(CatalogError, match="is not a language tag"):
        catalog_path(tmp_path, tag)
    with pytest.raises(CatalogError, match="is not a language tag") as caught:
        babel_locale(tag)
    assert caught.value.language == tag


@pytest.mark.parametrize("tag", ["de", "pt-BR", "pt_BR", "zh-Hans", "sr-Latn-RS", "fil"])
def test_plain_language_tags_name_their_catalog(tag: str, tmp_path: Path) -> None:
    path = catalog_path(tmp_path, tag)
    assert path.parent.parent.parent == tmp_path
    assert path.name == "syndicate.po"


def test_discovery_ignores_folders_that_are_not_language_tags(tmp_path: Path) -> None:
    """A stray ``locales/de\\n/`` or ``locales/..x/`` folder is not a language."""
    for name in ("de", "de\n", "..x", "de.bak"):
        folder = tmp_path / name / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "syndicate.po").write_text("", encoding="utf-8")
    assert discover_languages(tmp_path) == ["de"]


@pytest.mark.parametrize("plural_forms", ["nplurals=x; plural=(;", "nplurals=2; plural=(n != 1;",
                                          "nplurals=2; plural=import os;"])
def test_a_broken_plural_forms_header_is_located(tmp_path: Path, plural_forms: str) -> None:
    """Header errors name the Plural-Forms line, not just the file."""
    path = tmp_path / "syndicate.po"
    path.write_text(f'# x\n\nmsgid ""\nmsgstr ""\n"Language: de\\n"\n"Plural-Forms: {plural_forms}\\n"\n'
                    '\nmsgid "a"\nmsgstr "b"\n', encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        read_catalog(path, "de")
    assert caught.value.line == 6
    assert str(caught.value).startswith(f"{path}:6: ")

def _both_readings(text: str, language: str = "de") -> tuple[object, object]:
    """What the strict pass + :func:`read_messages` and Babel's reader make of ``text``."""
    from syndicate.answers._po import babel_read, po_syntax, read_messages

    path = Path("x.po")

    def shape(catalog: Any) -> object:
        messages = [(m.id, m.string, m.context, m.lineno, m.fuzzy) for m in catalog if m.id]
        return (int(catalog.num_plurals), str(catalog.plural_expr), messages)

    def outcome(read: Any) -> object:
        try:
            return shape(read())
        except CatalogError as exc:
            return ("error", str(exc), exc.line)

    syntax = po_syntax(text)
    assert not syntax.errors
    ours = outcome(lambda: read_messages(text, syntax, language, path)
                   or babel_read(text, language, path))
    theirs = outcome(lambda: babel_read(text, language, path))
    return ours, theirs


def test_strict_pass_reads_messages_as_babel_does() -> None:
    """For any file the strict pass accepts, its messages equal Babel's reading (or error)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from syndicate.answers._po import po_syntax

    piece = st.sampled_from([*"ab {}é\u0645\t", "\\n", '\\"', "\\\\"])
    quoted = st.lists(piece, max_size=8).map(lambda parts: '"' + "".join(parts) + '"')
    comment = st.sampled_from(["#, fuzzy", "#,fuzzy, python-format", "#, python-format",
                               "#. note", "#: a.py:3", "# user", "#| msgid \"old\"", "",
                               "#~ msgid \"gone\"", "#~ msgstr \"weg\"", "#: \u2068a b\u2069:1"])
    keyword_gap = st.sampled_from([" ", " ", " ", "  ", "\t"])

    @st.composite
    def entry(draw: Any) -> list[str]:
        lines = draw(st.lists(comment, max_size=2))
        gap = draw(keyword_gap)
        if draw(st.booleans()):
            lines.append(f"msgctxt{gap}{draw(quoted)}")
        lines.append(f"msgid {draw(quoted)}")
        lines += draw(st.lists(quoted, max_size=2))
        if draw(st.integers(0, 3)) == 0:
            lines.append(f"msgid_plural {draw(quoted)}")
            for index in range(draw(st.integers(1, 4))):
                lines.append(f"msgstr[{index}] {draw(quoted)}")
                lines += draw(st.lists(quoted, max_size=1))
        else:
            lines.append(f"msgstr {draw(quoted)}")
            lines += draw(st.lists(quoted, max_size=1))
        return lines

    header = st.sampled_from([
        [],
        ['msgid ""', 'msgstr ""', '"Language: de\\n"', '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"'],
        ["#, fuzzy", 'msgid ""', 'msgstr ""', '"Plural-Forms: nplurals=3; plural=(n%10==1 ? 0 : n>1 ? 1 : 2);\\n"'],
        ['msgid ""', 'msgstr "Plural-Forms: nplurals=1; plural=0;\\n"'],
        ['msgid ""', 'msgstr ""', '"Plural-Forms: nplurals=x; plural=0;\\n"'],
        ['msgid ""', 'msgstr ""', '"Language: xx-notalocale\\n"'],
    ])

    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(header, st.lists(entry(), max_size=5), st.sampled_from(["\n", "\n\n", "\r\n"]))
    def agree(head: list[str], entries: list[list[str]], newline: str) -> None:
        blocks = ([head] if head else []) + entries
        text = "\n\n".join(newline.join(block) for block in blocks) + "\n"
        if po_syntax(text).errors:
            return
        ours, theirs = _both_readings(text)
        assert ours == theirs

    agree()


def test_shipped_and_generated_catalogs_read_as_babel_reads_them(tmp_path: Path) -> None:
    """The bundled catalogs and a generated corpus's read identically both ways."""
    from syndicate.answers.catalogs import discover_languages
    from syndicate.testing import generate_corpus

    _, locales, _ = generate_corpus(tmp_path, 20, 4)
    for root in (ROOT / "locales", locales):
        for language in discover_languages(root):
            text = catalog_path(root, language).read_text("utf-8")
            ours, theirs = _both_readings(text, language)
            assert ours == theirs


def test_catalog_sent_by_a_worker_looks_up_the_same(tmp_path: Path) -> None:
    """A pickled catalog keeps its entries as tuples and gives the same entries on lookup."""
    import pickle

    from syndicate.answers.catalogs import PackedEntries
    from syndicate.testing import generate_corpus

    _, locales, languages = generate_corpus(tmp_path, 5, 5)
    for language in languages:
        catalog = read_catalog(catalog_path(locales, language), language)
        received = pickle.loads(pickle.dumps(catalog))
        assert isinstance(received.entries, PackedEntries)
        assert dict(received.entries) == dict(catalog.entries)
        assert received.plural(5) == catalog.plural(5)
        for key, entry in catalog.entries.items():
            assert received.entries[key] == entry
            assert received.usable(key) == catalog.usable(key)
            assert received.why_not(key) == catalog.why_not(key)
        assert received.entries.get((None, "no such message")) is None
        again = pickle.loads(pickle.dumps(received))
        assert dict(again.entries) == dict(catalog.entries)
