"""Renditions: complete or refused with reasons, never mixed, dates and plurals per locale."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from syndicate.answers import ui
from syndicate.answers.catalogs import answer_messages, read_catalog
from syndicate.answers.content import Answer, parse_answer
from syndicate.answers.localize import Incomplete, Rendition, localize, localize_source, mark_stale

ANSWER = """\
---
id: a1
condition: Lupus
question: What causes Lupus?
reviewed: 2026-04-06
experiences: 15
url: https://diseasemaps.example/lupus/a1
---
The cause of *Lupus* is not fully understood; over 100 variants matter.

## Triggers

- sunlight
"""

SPANISH = {
    "Lupus": "Lupus",
    "What causes Lupus?": "¿Qué causa el lupus?",
    "The cause of *Lupus* is not fully understood; over 100 variants matter.":
        "La causa del *lupus* no se comprende del todo; importan más de 100 variantes.",
    "Triggers": "Desencadenantes",
    "sunlight": "la luz solar",
}


def make_answer(text: str = ANSWER) -> Answer:
    answer, problems = parse_answer(text.encode(), "lupus/a1.md")
    assert answer is not None, problems
    return answer


def interface_translations(prefix: str, forms: int) -> tuple[dict[str, str], dict[tuple[str, str], list[str]]]:
    messages = ui.interface_messages()
    singular = {m: f"{prefix} {m}" for m in messages if isinstance(m, str)}
    plural = {m: [f"{prefix} {m[1]}"] * forms for m in messages if isinstance(m, tuple)}
    return singular, plural


def write_catalog(
    path: Path,
    language: str,
    answer: Answer,
    texts: dict[str, str],
    *,
    forms: int = 3,
    plural_expr: str = "(n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2)",
    edit: Callable[[Catalog], None] | None = None,
) -> Path:
    catalog = Catalog(locale=language.replace("-", "_"), domain="syndicate")
    catalog._num_plurals, catalog._plural_expr = forms, plural_expr  # the header Babel would write
    catalog.revision_date = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    for message in answer_messages(answer):
        catalog.add(message.text, texts.get(message.text, ""), context=message.context)
    singular, plural = interface_translations(f"[{language}]", forms)
    for msgid, msgstr in singular.items():
        catalog.add(msgid, msgstr)
    for (one, many), strings in plural.items():
        catalog.add((one, many), tuple(strings))
    if edit:
        edit(catalog)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog)
    return path


def test_source_rendition_is_complete_and_plain() -> None:
    rendition = localize_source(make_answer(), "en", "DiseaseMaps")
    assert rendition.title == "What causes Lupus?"
    assert rendition.summary_text.startswith("The cause of Lupus is not fully")
    assert "<em>Lupus</em>" in rendition.body_html
    assert "<ul>\n<li>sunlight</li>\n</ul>" in rendition.body_html
    assert rendition.labels.last_reviewed == "Last reviewed on April 6, 2026"
    assert rendition.labels.experiences == (
        "15 people with Lupus have shared their first-person experience on this question at DiseaseMaps."
    )
    assert rendition.updated == dt.datetime(2026, 4, 6, tzinfo=dt.UTC)
    assert not rendition.stale


def test_complete_translation_gives_a_spanish_rendition(tmp_path: Path) -> None:
    answer = make_answer()
    catalog = read_catalog(write_catalog(tmp_path / "es.po", "es", answer, SPANISH), "es")
    rendition = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(rendition, Rendition)
    assert rendition.title == "¿Qué causa el lupus?"
    assert rendition.direction == "ltr"
    assert rendition.labels.last_reviewed == "[es] Last reviewed on 6 de abril de 2026"
    assert rendition.updated == dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)  # catalog revised later
    assert "English" not in rendition.content_html


def test_a_single_missing_paragraph_makes_the_rendition_incomplete(tmp_path: Path) -> None:
    answer = make_answer()
    texts = dict(SPANISH)
    del texts["sunlight"]
    catalog = read_catalog(write_catalog(tmp_path / "es.po", "es", answer, texts), "es")
    result = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(result, Incomplete)
    assert result.reasons == ("line 13: 'sunlight': untranslated",)


def test_fuzzy_translation_is_not_published(tmp_path: Path) -> None:
    answer = make_answer()

    def fuzz(catalog: Catalog) -> None:
        catalog.get("Triggers", context="a1").flags.add("fuzzy")

    catalog = read_catalog(write_catalog(tmp_path / "es.po", "es", answer, SPANISH, edit=fuzz), "es")
    result = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(result, Incomplete)
    assert result.reasons == ("line 11: 'Triggers': fuzzy",)


def test_translation_that_fails_a_check_is_not_published(tmp_path: Path) -> None:
    answer = make_answer()
    texts = dict(SPANISH)
    key = "The cause of *Lupus* is not fully understood; over 100 variants matter."
    texts[key] = "La causa del *lupus* <script>alert(1)</script> no se comprende; más de 100."
    catalog = read_catalog(write_catalog(tmp_path / "es.po", "es", answer, texts), "es")
    result = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(result, Incomplete)
    assert "HTML <script> is not in the source" in result.reasons[0]


def test_missing_interface_string_makes_it_incomplete(tmp_path: Path) -> None:
    answer = make_answer()

    def drop(catalog: Catalog) -> None:
        catalog.delete("Medically reviewed")

    catalog = read_catalog(write_catalog(tmp_path / "es.po", "es", answer, SPANISH, edit=drop), "es")
    result = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(result, Incomplete)
    assert result.reasons == ("interface 'Medically reviewed': missing from the catalog",)


def test_arabic_is_right_to_left_with_six_plural_forms(tmp_path: Path) -> None:
    answer = make_answer()
    arabic = {key: f"ع {value}" for key, value in SPANISH.items()}
    arabic["The cause of *Lupus* is not fully understood; over 100 variants matter."] = (
        "سبب *الذئبة* غير مفهوم تماماً؛ أكثر من ١٠٠ متغير."
    )
    expr = ("(n == 0 ? 0 : n == 1 ? 1 : n == 2 ? 2 : n % 100 >= 3 && n % 100 <= 10 ? 3 "
            ": n % 100 >= 11 && n % 100 <= 99 ? 4 : 5)")

    def forms(catalog: Catalog) -> None:
        for message in catalog:
            if isinstance(message.id, tuple):
                message.string = tuple(f"form{i} {{n}} {{condition}} {{publisher}}" for i in range(6))

    path = write_catalog(tmp_path / "ar.po", "ar", answer, arabic, forms=6, plural_expr=expr, edit=forms)
    catalog = read_catalog(path, "ar")
    rendition = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(rendition, Rendition), rendition
    assert rendition.direction == "rtl"
    assert rendition.labels.experiences is not None
    assert rendition.labels.experiences.startswith("form4 15")  # 15 takes the "many" form
    assert "أبريل" in rendition.labels.last_reviewed


def test_wrong_plural_count_is_refused(tmp_path: Path) -> None:
    answer = make_answer()

    def two_forms(catalog: Catalog) -> None:
        for message in catalog:
            if isinstance(message.id, tuple):
                message.string = ("{n} a", "{n} b")

    catalog = read_catalog(write_catalog(tmp_path / "es.po", "es", answer, SPANISH, edit=two_forms), "es")
    result = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(result, Incomplete)
    assert result.reasons == (
        "interface '{n} person with {condition} has shared their first': "
        "plural form 2 is empty (es has 3 forms)",
    )


def test_rendition_round_trips_through_its_dict() -> None:
    rendition = localize_source(make_answer(), "en", "DiseaseMaps")
    again = Rendition.from_dict(rendition.to_dict())
    assert again == rendition
    assert again.content_hash == rendition.content_hash


def test_content_hash_ignores_updated_but_not_text() -> None:
    rendition = localize_source(make_answer(), "en", "DiseaseMaps")
    moved = dataclasses.replace(rendition, updated=rendition.updated + dt.timedelta(days=1))
    edited = dataclasses.replace(rendition, title="Other")
    assert moved.content_hash == rendition.content_hash != edited.content_hash


def test_stale_rendition_keeps_old_text_and_says_so(tmp_path: Path) -> None:
    answer = make_answer()
    catalog = read_catalog(write_catalog(tmp_path / "es.po", "es", answer, SPANISH), "es")
    previous = localize(answer, catalog, "DiseaseMaps")
    assert isinstance(previous, Rendition)
    rereviewed = make_answer(ANSWER.replace("2026-04-06", "2026-10-01"))
    stale = mark_stale(previous, rereviewed, catalog)
    assert stale.stale
    assert stale.reviewed == dt.date(2026, 4, 6)
    assert stale.source_reviewed == dt.date(2026, 10, 1)
    assert stale.title == previous.title
    assert stale.stale_notice is not None
    assert "6 de abril de 2026" in stale.stale_notice and "1 de octubre de 2026" in stale.stale_notice
    assert stale.stale_notice in stale.content_html


@pytest.mark.parametrize("language", ["es", "fr", "de", "ar", "zh-Hans"])
def test_shipped_catalogs_are_readable(project_root: Path, language: str) -> None:
    path = project_root / "locales" / language.replace("-", "_") / "LC_MESSAGES" / "syndicate.po"
    catalog = read_catalog(path, language)
    assert catalog.language == language


def test_rendition_to_dict_is_dataclasses_asdict_with_iso_dates() -> None:
    """The hand-written ``to_dict`` gives what ``dataclasses.asdict`` gave, in field order."""
    import dataclasses as dc

    from syndicate.testing import make_rendition

    reviewed = make_rendition(translation_reviewed=dt.date(2026, 4, 7),
                              translation_reviewed_by="Dr. Jana Weber (fixture)")
    for rendition in (make_rendition(), reviewed, make_rendition(
            review_due=None, reviewed_by=None, stale_notice="Old")):
        expected = dc.asdict(rendition)
        for key in ("reviewed", "review_due", "source_reviewed", "updated",
                    "translation_reviewed"):
            value = expected[key]
            expected[key] = value.isoformat() if value is not None else None
        if rendition.translation_reviewed is None:
            # absent, not null: renditions without a record keep their content hash
            del expected["translation_reviewed"], expected["translation_reviewed_by"]
        assert rendition.to_dict() == expected
        assert list(rendition.to_dict()) == list(expected)
        assert type(rendition).from_dict(rendition.to_dict()) == rendition
