"""Checks on one translated message: what a translation must keep and may not add."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from syndicate.answers.checks import check_message, numbers

ES = Locale.parse("es")
DE = Locale.parse("de")
AR = Locale.parse("ar")


def check(source: str, translation: str, locale: Locale = ES) -> list[str]:
    """Problems of a singular message."""
    return check_message((source,), (translation,), locale=locale, plural_count=3)


def test_faithful_translation_has_no_problem() -> None:
    """A translation keeping numbers, link and markup passes."""
    source = "Take **75 mg** twice a day; see [the label](https://example.org/label)."
    translation = "Tome **75 mg** dos veces al día; vea [el prospecto](https://example.org/label)."
    assert check(source, translation) == []


def test_dose_with_moved_decimal_separator_fails() -> None:
    """English "75 mg" written "7,5 mg" in Spanish is 7.5, not 75: an error."""
    problems = check("Take 75 mg daily.", "Tome 7,5 mg al día.")
    assert problems == ["numbers or units differ: source has 75 mg; translation has 7.5 mg"]


def test_german_decimal_comma_is_the_same_number() -> None:
    """German "2,5" is English "2.5", and "1.000" is "1,000"."""
    assert check("Take 2.5 mg, up to 1,000 mg a day.",
                 "Nehmen Sie 2,5 mg, bis zu 1.000 mg am Tag.", DE) == []


def test_arabic_indic_digits_are_numbers() -> None:
    """Arabic may write 100 with Arabic-Indic digits."""
    assert check("over 100 variants", "أكثر من \u0661\u0660\u0660 متغير", AR) == []
    assert check("over 100 variants", "أكثر من \u0661\u0660 متغير", AR) != []


def test_dropped_placeholder_is_an_error() -> None:
    """A placeholder of the source must stay."""
    assert check("Last reviewed on {date}", "Última revisión") == ["placeholder {date} dropped"]


def test_renamed_placeholder_is_an_error() -> None:
    """A placeholder the source lacks is unknown at render time."""
    problems = check("Last reviewed on {date}", "Última revisión el {fecha}")
    assert "unknown placeholder {fecha}" in problems


@pytest.mark.parametrize("translation", ["Revisado el {date} {", "Revisado el {date.__class__}"])
def test_broken_format_string_is_an_error(translation: str) -> None:
    """A stray brace or an attribute lookup would break or leak through str.format."""
    assert check("Reviewed on {date}", translation) != []


def test_changed_url_is_an_error() -> None:
    """A URL of the source must be kept exactly."""
    problems = check("See https://example.org/a for more.", "Vea https://example.org/b.")
    assert "URL https://example.org/a changed or dropped" in problems
    assert "URL https://example.org/b is not in the source" in problems


def test_changed_link_target_is_an_error() -> None:
    """Markdown link targets are part of the markup that must match."""
    problems = check("[Label](https://example.org/a)", "[Etiqueta](https://example.org/b)")
    assert "markup or link targets differ from the source" in problems


def test_dropped_emphasis_is_an_error() -> None:
    """Markup may move with the words but not vanish."""
    assert check("Do **not** stop", "No lo interrumpa") == [
        "markup or link targets differ from the source"
    ]


@pytest.mark.parametrize(
    "translation",
    [
        "Hola <script>alert(1)</script>",
        "Hola <img src=x onerror=alert(1)>",
        "Hola [aquí](javascript:alert(1))",
        "Hola <script",
        "Hola <!-- x -->",
    ],
)
def test_html_or_script_url_the_source_lacks_is_an_error(translation: str) -> None:
    """Translators are semi-trusted: no HTML, no script URLs the source does not have."""
    problems = check("Hello", translation)
    assert any("HTML" in p or "script" in p for p in problems), problems


def test_less_than_sign_is_not_html() -> None:
    """A comparison in the text is not markup."""
    assert check("if x < 5 and y > 3", "si x < 5 e y > 3") == []


def test_control_character_is_an_error() -> None:
    """A feed cannot carry C0 control characters."""
    assert check("Hello", "Hola\x07") == ["control character U+0007"]


def test_plural_with_wrong_number_of_forms_is_an_error() -> None:
    """Spanish needs three forms (CLDR); two are not enough."""
    problems = check_message(("{n} day", "{n} days"), ("{n} día", "{n} días"), locale=ES,
                             plural_count=3)
    assert problems == ["plural has 2 forms, es needs exactly 3"]


def test_plural_forms_may_spell_out_the_count() -> None:
    """A form may say "one" in words, as long as some form carries {n}."""
    problems = check_message(
        ("{n} person with {condition}", "{n} people with {condition}"),
        ("una persona con {condition}", "{n} de personas con {condition}",
         "{n} personas con {condition}"),
        locale=ES,
        plural_count=3,
    )
    assert problems == []


def test_plural_form_dropping_a_named_placeholder_is_an_error() -> None:
    """Every form keeps the placeholders other than the count."""
    problems = check_message(
        ("{n} person with {condition}", "{n} people with {condition}"),
        ("{n} persona", "{n} de personas con {condition}", "{n} personas con {condition}"),
        locale=ES,
        plural_count=3,
    )
    assert problems == ["msgstr[0]: placeholder {condition} dropped"]


@given(st.text(max_size=40), st.text(max_size=40), st.sampled_from(["script", "SCRIPT", " script"]))
def test_any_translation_adding_script_is_rejected(prefix: str, suffix: str, tag: str) -> None:
    """Whatever surrounds it, ``<script`` in a translation of a plain source is an error."""
    problems = check("Take the tablet.", f"{prefix}<{tag}{suffix}")
    assert any("HTML" in p for p in problems), problems


amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False,
                      allow_infinity=False)


@given(st.lists(amounts, min_size=1, max_size=5), st.randoms())
def test_numbers_survive_reordering_and_german_formatting(
    values: list[Decimal], rnd: random.Random
) -> None:
    """The same numbers, in any order, written the German way, match the English source."""
    source = " and ".join(f"{format_decimal(v, locale='en')} mg" for v in values)
    shuffled = list(values)
    rnd.shuffle(shuffled)
    translation = " und ".join(f"{format_decimal(v, locale='de')} mg" for v in shuffled)
    assert numbers(source, Locale.parse("en")) == numbers(translation, DE)
    assert check(source, translation, DE) == []


@given(st.lists(amounts, min_size=1, max_size=5), st.data())
def test_a_changed_number_is_always_caught(values: list[Decimal], data: st.DataObject) -> None:
    """Changing any one number by a factor of ten is an error."""
    index = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    source = " and ".join(f"{format_decimal(v, locale='en')} mg" for v in values)
    changed = list(values)
    changed[index] = changed[index] * 10 + 1
    translation = " und ".join(f"{format_decimal(v, locale='de')} mg" for v in changed)
    assert any(p.startswith("numbers or units differ") for p in check(source, translation, DE))
