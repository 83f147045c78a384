"""A hostile-catalog corpus: translations that change a dose, a unit, a digit, the direction
of the text, its script or its plural rule, each with the exact message a translator sees.

The German cases are translations of one dosing sentence that all passed ``i18n check`` once
(and were published). Plural-rule cases are in ``test_plurals.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel import Locale

from syndicate.answers.catalogs import read_catalog
from syndicate.answers.checks import check_message
from syndicate.answers.clinical import COPIED, review_reasons

SOURCE = ("Adults can take 1 tablet of 500 mg up to 4 times in 24 hours. "
          "Do not take more than 4 g in 24 hours.")
GERMAN = ("Erwachsene können bis zu 4-mal in 24 Stunden 1 Tablette zu 500 mg einnehmen. "
          "Nehmen Sie nicht mehr als 4 g in 24 Stunden ein.")
AMOUNTS = "1 tablet, 500 mg, 4 times, 24 hours, 4 g, 24 hours"
IN_GERMAN = "4 times, 24 hours, 1 tablet, 500 mg, 4 g, 24 hours"


def differ(translation: str) -> str:
    return f"numbers or units differ: source has {AMOUNTS}; translation has {translation}"


def invisible(code: str, name: str, kind: str = "bidi control") -> str:
    return f"invisible {kind} U+{code} ({name}): may change how the text displays; remove it"


def german(old: str, new: str) -> str:
    assert old in GERMAN
    return GERMAN.replace(old, new, 1)


CASES = {
    "faithful, other word order": (GERMAN, []),
    "decimal comma": (german("500 mg", "500,0 mg"), []),
    "Arabic-Indic digits": (german("500", "٥٠٠"), []),
    "fullwidth digits": (german("500", "５００"), []),
    "500 g for 500 mg": (german("500 mg", "500 g"), [differ(IN_GERMAN.replace("500 mg", "500 g"))]),
    "4 kg for 4 g": (german("4 g", "4 kg"), [differ(IN_GERMAN.replace("4 g", "4 kg"))]),
    "German grouping: 4.000 g": (german("4 g", "4.000 g"),
                                 [differ(IN_GERMAN.replace("4 g", "4000 g"))]),
    "numbers moved between clauses": (
        german("4-mal in 24 Stunden", "24-mal in 4 Stunden"),
        [differ("24 times, 4 hours, 1 tablet, 500 mg, 4 g, 24 hours")]),
    "vulgar fraction": (german("1 Tablette", "1½ Tabletten"),
                        [differ(IN_GERMAN.replace("1 tablet", "1.5 tablets"))]),
    "superscript digit": (german("4 g", "4⁰ g"), [differ(IN_GERMAN.replace("4 g", "4, 0 g"))]),
    "digits split by a space": (german("500 mg", "5 00 mg"),
                                [differ(IN_GERMAN.replace("500 mg", "5, 0 mg"))]),
    "an added dose in words": (
        german("einnehmen.", "einnehmen (plus zweimal nachts)."),
        [differ(IN_GERMAN.replace("500 mg", "500 mg, 2 times"))]),
    "right-to-left override around 500": (
        german("500", "\u202e500\u202c"),
        [invisible("202E", "right-to-left override"),
         invisible("202C", "pop directional formatting"),
         differ(IN_GERMAN.replace("500 mg", "500"))]),
    "right-to-left isolate around 24": (
        german("24 Stunden 1", "\u2067 24\u2069 Stunden 1"),
        [invisible("2067", "right-to-left isolate"),
         invisible("2069", "pop directional isolate"),
         differ(IN_GERMAN.replace("24 hours, 1", "24, 1"))]),
    "zero-width space inside 500": (
        german("500", "5\u200b00"),
        [invisible("200B", "zero width space", "zero-width character"),
         differ(IN_GERMAN.replace("500 mg", "5, 0 mg"))]),
    "negation dropped": (
        german("nicht ", ""),
        ["negation dropped: the source says 'not', the translation has no negation"]),
    "squared number added": (GERMAN + " 100²", [differ(IN_GERMAN + ", 100, 2")]),
    "circled number added": (GERMAN + " ⑩", [differ(IN_GERMAN + ", 10")]),
    "Persian digit added": (GERMAN + " ۵", [differ(IN_GERMAN + ", 5")]),
    "CJK numeral added": (GERMAN + " 十万", [
        "text in CJK script, which de does not use: '十'", differ(IN_GERMAN + ", 100000")]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_hostile_german_translation_gets_its_message(case: str) -> None:
    translation, expected = CASES[case]
    assert check_message((SOURCE,), (translation,), locale=Locale.parse("de"),
                         plural_count=2) == expected


@pytest.mark.parametrize(("language", "source", "translation", "expected"), [
    ("es", "Lupus is a disease.", "El лупус es una enfermedad.",
     ["text in Cyrillic script, which es does not use: 'л'"]),
    ("fr", "Lupus is a disease.", "Le lupus est une maladie\u200d.",
     [invisible("200D", "zero width joiner", "zero-width character")]),
    ("ar", "Lupus", "الذ\u200cئبة", []),  # the joiners Arabic needs
    ("ar", "Take 500 mg.", "تناول ٥٠٠ ملغ.", []),
    ("ar", "Take 500 mg.", "تناول ٥٠ ملغ.",
     ["numbers or units differ: source has 500 mg; translation has 50 mg"]),
    ("zh-Hans", "Take it 4 times in 24 hours.", "24小时内服用四次。", []),
    ("zh-Hans", "Take it 4 times in 24 hours.", "24小时内服用十次。",
     ["numbers or units differ: source has 4 times, 24 hours; translation has 24 hours, "
      "10 times"]),
    ("es", "Use {a} and {b}.", "Use {x} y {y}.",
     ["unknown placeholder {x}", "unknown placeholder {y}", "placeholder {a} dropped",
      "placeholder {b} dropped"]),
])
def test_scripts_digits_and_placeholders(
        language: str, source: str, translation: str, expected: list[str]) -> None:
    assert check_message((source,), (translation,), locale=Locale.parse(language.replace(
        "-", "_")), plural_count=2) == expected


def test_english_copied_into_the_arabic_catalog_counts_as_untranslated(tmp_path: Path) -> None:
    from tests.answers.test_localize import make_answer, write_catalog
    answer = make_answer()
    texts = {"What causes Lupus?": "ما أسباب الذئبة؟",
             "The cause of *Lupus* is not fully understood; over 100 variants matter.":
             "The cause of *Lupus* is not fully understood; over 100 variants matter."}
    catalog = read_catalog(write_catalog(tmp_path / "ar.po", "ar", answer, texts), "ar")
    copied = next(e for e in catalog.entries.values() if e.source[0] == e.strings[0]
                  and e.source[0].startswith("The cause"))
    assert not copied.translated and copied.problems == (COPIED,)
    assert catalog.why_not(copied.key) == "untranslated"


@pytest.mark.parametrize(("source", "reasons"), [
    (SOURCE, ("dose", "negation")),
    ("Take 2 tablets a day.", ("dose",)),
    ("Lupus is not contagious.", ("negation",)),
    ("Lupus affects over 100 genes.", ()),
])
def test_messages_needing_medical_review(source: str, reasons: tuple[str, ...]) -> None:
    assert review_reasons(source) == reasons
