"""What a translation of medical text must keep exactly: doses, counts and negations.

A number is read with its unit: ``500 mg`` and ``500 g`` differ by a factor of a thousand,
``4 times in 24 hours`` and ``24 times in 4 hours`` hold the same numbers. So every number of a
message is found in whatever digits it is written (Arabic-Indic, Persian, fullwidth, CJK
numerals, superscripts and subscripts, vulgar fractions, circled numbers: all normalized with
:mod:`unicodedata`), parsed with the separators of its locale (Babel: German ``4.000`` is four
thousand, ``500,0`` is five hundred), and paired with the unit written after it (mass and
volume scaled to one base unit, IU, percent, per-time and count words in the languages
Syndicate ships). Source and translation must give the same sequence; the order may differ
only when every number carries a unit on both sides (German puts them elsewhere in the
sentence), never for bare numbers.

A source with a dose or a negation also asks for a medical review of each translation
(:func:`review_reasons`). Pure functions; below :mod:`.checks`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from babel import Locale
from babel.numbers import NumberFormatError, parse_decimal

# -- units -------------------------------------------------------------------------------------

_UNITS: dict[tuple[str, str, Decimal], tuple[str, ...]] = {
    # (dimension, canonical symbol, factor to the dimension's base unit): words
    ("mass", "mg", Decimal(1)): (
        "mg", "milligram", "milligrams", "milligramm", "miligramo", "miligramos",
        "milligramme", "milligrammes", "ملغ", "مغ", "ملغم", "ملليغرام", "毫克", "мг"),
    ("mass", "g", Decimal(1000)): (
        "g", "gram", "grams", "gramm", "gramo", "gramos", "gramme", "grammes", "غ", "غرام",
        "جم", "克", "г"),
    ("mass", "kg", Decimal(1_000_000)): (
        "kg", "kilogram", "kilograms", "kilogramm", "kilogramo", "kilogramos", "kilogramme",
        "kilogrammes", "كغ", "كجم", "كيلوغرام", "千克", "公斤", "кг"),
    ("mass", "µg", Decimal("0.001")): (
        "µg", "μg", "mcg", "microgram", "micrograms", "mikrogramm", "microgramo",
        "microgramos", "microgramme", "microgrammes", "ميكروغرام", "微克", "мкг"),
    ("volume", "ml", Decimal(1)): (
        "ml", "milliliter", "milliliters", "millilitre", "millilitres", "mililitro",
        "mililitros", "مل", "毫升", "мл"),
    ("volume", "l", Decimal(1000)): (
        "l", "liter", "liters", "litre", "litres", "litro", "litros", "لتر", "升", "л"),
    ("iu", "IU", Decimal(1)): (
        "iu", "i.e.", "ie", "ui", "u.i.", "وحدة دولية", "国际单位", "ме"),
    ("percent", "%", Decimal(1)): (
        "%", "٪", "％", "percent", "per cent", "prozent", "por ciento", "pour cent",
        "بالمئة", "في المئة"),
    ("times", "times", Decimal(1)): (
        "times", "time", "x", "mal", "veces", "vez", "fois", "مرات", "مرة", "次", "раз",
        "раза"),
    ("minutes", "minutes", Decimal(1)): (
        "minutes", "minute", "min", "minuten", "minuto", "minutos", "دقيقة", "دقائق",
        "分钟", "минут", "минуты"),
    ("hours", "hours", Decimal(1)): (
        "hours", "hour", "h", "hrs", "stunden", "stunde", "std.", "horas", "hora", "heures",
        "heure", "ساعة", "ساعات", "小时", "个小时", "час", "часа", "часов"),
    ("days", "days", Decimal(1)): (
        "days", "day", "tage", "tagen", "tag", "días", "día", "jours", "jour", "أيام", "يوم",
        "天", "日", "дней", "дня", "день"),
    ("weeks", "weeks", Decimal(1)): (
        "weeks", "week", "wochen", "woche", "semanas", "semana", "semaines", "semaine",
        "أسابيع", "أسبوع", "周", "星期", "个星期", "недели", "недель", "неделя"),
    ("tablets", "tablets", Decimal(1)): (
        "tablets", "tablet", "tabletten", "tablette", "comprimidos", "comprimido", "tabletas",
        "tableta", "comprimés", "comprimé", "أقراص", "قرص", "片", "таблетки", "таблетка",
        "таблеток"),
    ("capsules", "capsules", Decimal(1)): (
        "capsules", "capsule", "kapseln", "kapsel", "cápsulas", "cápsula", "كبسولات",
        "كبسولة", "粒", "胶囊", "капсулы", "капсула"),
    ("drops", "drops", Decimal(1)): (
        "drops", "drop", "tropfen", "gotas", "gota", "gouttes", "goutte", "قطرات", "قطرة", "滴",
        "капли", "капель"),
    ("puffs", "puffs", Decimal(1)): (
        "puffs", "puff", "hübe", "hub", "inhalaciones", "inhalación", "bouffées", "bouffée",
        "بخات", "بخة", "喷", "вдоха", "вдохов"),
}
_UNIT_OF: dict[str, tuple[str, str, Decimal]] = {
    word.casefold(): unit for unit, words in _UNITS.items() for word in words}
_UNIT_WORD = re.compile(
    r"[ \u00a0\u202f\u2009]?-?[ \u00a0\u202f\u2009]?("
    + "|".join(re.escape(w) for w in sorted(_UNIT_OF, key=len, reverse=True)) + ")",
    re.IGNORECASE)
_CJK = re.compile("[\u3000-\u9fff\uf900-\ufaff]")

# Multiplicative words a translator may write instead of digits ("zweimal", "dos veces").
_MULTIPLES = {
    "twice": 2, "thrice": 3,
    **{f"{w}mal": n for n, w in enumerate(
        ["zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"], start=2)},
    **{f"{w} veces": n for n, w in enumerate(
        ["dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"], start=2)},
    **{f"{w} fois": n for n, w in enumerate(
        ["deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"], start=2)},
    "مرتين": 2, "مرتان": 2,
}
_MULTIPLE = re.compile(
    r"(?<![^\W\d_])(" + "|".join(re.escape(w) for w in sorted(_MULTIPLES, key=len,
                                                             reverse=True)) + r")(?![^\W\d_])",
    re.IGNORECASE)

# -- numbers in any digits ---------------------------------------------------------------------

_CJK_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
               "七": 7, "八": 8, "九": 9}
_CJK_UNITS = {"十": 10, "百": 100, "千": 1000}
_CJK_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_CJK_NUMERAL = "".join([*_CJK_DIGITS, *_CJK_UNITS, *_CJK_BIG])
_CJK_RUN = re.compile(f"[{_CJK_NUMERAL}]+")
_SEPARATORS = ".,\u00a0\u202f\u2009\u066b\u066c'\u2019 "
_NUMBER_BLOCKS = ((0x00B2, 0x00BE), (0x2070, 0x209F), (0x2150, 0x218F), (0x2460, 0x24FF),
                  (0x2776, 0x2793), (0x3220, 0x3229), (0x3248, 0x325F), (0x3280, 0x3289),
                  (0x32B1, 0x32BF), (0x1D7CE, 0x1D7FF), (0x1F100, 0x1F10C))
"""Unicode blocks holding numbers that are not decimal digits: superscripts, subscripts,
vulgar fractions, Roman numerals, circled and parenthesized numbers."""
_OTHER_NUMERIC = re.compile("[" + "".join(
    re.escape(chr(code)) for low, high in _NUMBER_BLOCKS for code in range(low, high + 1)
    if not chr(code).isdecimal() and unicodedata.numeric(chr(code), None) is not None) + "]")


class Amount(NamedTuple):
    """A number of a message and the unit written after it."""

    value: Decimal
    """In the dimension's base unit (mass in mg, volume in ml)."""
    dimension: str | None
    """``mass``, ``volume``, ``times``, ``hours``, ... or ``None`` for a bare number."""
    shown: str
    """As it is reported: ``500 mg``."""


def _cjk_value(run: str) -> Decimal | None:
    """``十万`` is 100000, ``二十四`` 24; a lone ``一`` (also "a", "one kind of") is no number."""
    if run == "一" or all(c in "一" for c in run):
        return None
    total = section = number = 0
    for char in run:
        if char in _CJK_DIGITS:
            number = number * 10 + _CJK_DIGITS[char] if number else _CJK_DIGITS[char]
        elif char in _CJK_UNITS:
            section += (number or 1) * _CJK_UNITS[char]
            number = 0
        else:
            total += (section + number) * _CJK_BIG[char]
            section = number = 0
    return Decimal(total + section + number)


_OTHER_DECIMAL = re.compile(r"(?![0-9])\d")


def _ascii(text: str) -> str:
    """Decimal digits of every script as ASCII digits (Arabic-Indic, Persian, fullwidth...)."""
    if text.isascii():
        return text
    return _OTHER_DECIMAL.sub(lambda match: str(unicodedata.decimal(match.group())), text)


@functools.lru_cache(maxsize=8192)
def _parse(raw: str, locale: str) -> tuple[tuple[int, int, Decimal], ...]:
    """One run of digits and separators as its locale reads it (Babel, strict grouping), as
    ``(start, end, value)`` within the run; a run neither the locale nor English reads is
    several numbers (``5 00`` is 5 and 0)."""
    if raw.isdigit():
        return ((0, len(raw), Decimal(raw)),)
    compact = raw.replace("\u066b", ".").replace("\u066c", ",")
    for candidate in (locale, "en"):
        spaced = compact
        for space in "\u00a0\u202f\u2009 ":
            spaced = spaced.replace(space, "\u202f" if candidate == "fr" else "\u00a0")
        try:
            value = parse_decimal(spaced, locale=candidate, strict=True).normalize()
        except (NumberFormatError, InvalidOperation, ValueError):
            continue
        return ((0, len(raw), value),)
    return tuple((m.start(), m.end(), Decimal(m.group())) for m in re.finditer(r"\d+", raw))


_DIGITS = re.compile(rf"\d+(?:[{_SEPARATORS}]\d+)*")


def amounts(text: str, locale: Locale | str) -> list[Amount]:
    """Every number of ``text`` with its unit, in order (see the module doc)."""
    found: dict[int, tuple[int, Decimal]] = {}
    # One scan tells whether the text has any number beyond ASCII digits (most text that is
    # not ASCII has none): only then is it converted and searched for the others.
    exotic = not text.isascii() and _EXOTIC.search(text) is not None
    converted = _ascii(text) if exotic else text
    name = str(locale)
    for match in _DIGITS.finditer(converted):
        for start, end, value in _parse(match.group(), name):
            found[match.start() + start] = (match.start() + end, value)
    if exotic:
        _exotic_numbers(text, found)
    if _MAYBE_MULTIPLE.search(text):
        for match in _MULTIPLE.finditer(text):
            found[match.start()] = (-match.end(), Decimal(_MULTIPLES[match.group().lower()]))
    return [_with_unit(text, end, value) for _, (end, value) in sorted(found.items())]


_EXOTIC = re.compile(f"{_OTHER_DECIMAL.pattern}|[{_CJK_NUMERAL}]|{_OTHER_NUMERIC.pattern}")
"""Any character :func:`_ascii` converts or :func:`_exotic_numbers` reads."""
_MAYBE_MULTIPLE = re.compile("twice|thrice|mal|veces|fois|مرت", re.IGNORECASE)
"""A part of every word of :data:`_MULTIPLES` (with the same flags): text without any has
none of them, and is not searched for them."""


def _exotic_numbers(text: str, found: dict[int, tuple[int, Decimal]]) -> None:
    """CJK numerals, and numbers that are not decimal digits (², ½, ⑩), into ``found``."""
    for match in _CJK_RUN.finditer(text):
        cjk = _cjk_value(match.group())
        if cjk is not None:
            found[match.start()] = (match.end(), cjk)
    ends = {end: start for start, (end, _) in found.items()}
    for match in _OTHER_NUMERIC.finditer(text):
        start = match.start()
        value = Decimal(str(unicodedata.numeric(match.group())))
        before = ends.get(start)
        if 0 < value < 1 and before is not None:  # 1½: one number
            found[before] = (start + 1, found[before][1] + value)
            ends[start + 1] = before
        else:
            found[start] = (start + 1, value)
            ends[start + 1] = start


def _with_unit(text: str, end: int, value: Decimal) -> Amount:
    if end < 0:  # a multiplicative word: the unit is in the word
        return Amount(value, "times", f"{_number(value)} times")  # twice, zweimal: 2 and up
    return _unit_after(text[end:end + _UNIT_REACH], str(value))


_UNIT_REACH = 3 + max(map(len, _UNIT_OF)) + 1
"""How far after a number its unit is looked for: two spaces and a hyphen, the longest
unit word, and the character after it (IGNORECASE matches one character for one)."""


@functools.lru_cache(maxsize=1 << 14)
def _unit_after(following: str, number: str) -> Amount:
    """The amount of the number written ``number`` (exactly: ``str`` of the
    :class:`~decimal.Decimal`) followed by the text ``following`` (the few characters that
    decide its unit, :data:`_UNIT_REACH`): most numbers of a catalog are followed by the same
    few words."""
    value = Decimal(number)
    match = _UNIT_WORD.match(following)
    if match:
        word = match.group(1)
        after = following[match.end():match.end() + 1]
        boundary = _CJK.match(word) is not None or not (after.isalpha() or after.isdigit())
        if boundary:
            dimension, symbol, factor = _UNIT_OF[word.casefold()]
            if value == 1 and symbol.endswith("s"):
                symbol = symbol[:-1]  # 1 tablet, 1 time
            return Amount(value * factor, dimension, f"{_number(value)} {symbol}")
    return Amount(value, None, _number(value))


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def amount_problem(source: str, translation: str, locale: Locale) -> str | None:
    """Whether the translation's numbers and units are the source's (see the module doc)."""
    expected = _source_amounts(source)
    got = amounts(translation, locale)
    if [(a.value, a.dimension) for a in expected] == [(a.value, a.dimension) for a in got]:
        return None
    if _same_allowing_unknown_units(expected, got):
        return None
    shown = ", ".join(a.shown for a in expected) or "none"
    written = ", ".join(a.shown for a in got) or "none"
    return f"numbers or units differ: source has {shown}; translation has {written}"


@functools.lru_cache(maxsize=1 << 15)
def _source_amounts(source: str) -> tuple[Amount, ...]:
    return tuple(amounts(source, "en"))


def _same_allowing_unknown_units(expected: tuple[Amount, ...], got: list[Amount]) -> bool:
    """Same numbers in order, a translation's unknown unit word matching any unit; or, when
    every number has a unit on both sides, the same amounts in another order."""
    if len(expected) != len(got):
        return False
    if all(a.value == b.value and (b.dimension is None or a.dimension == b.dimension)
           for a, b in zip(expected, got, strict=True)):
        # A bare number where the source has a unit: only when the word is one we do not know
        return all(b.dimension is not None or a.dimension not in _SYMBOL_DIMENSIONS
                   for a, b in zip(expected, got, strict=True))
    if all(a.dimension for a in expected) and all(b.dimension for b in got):
        return Counter((a.value, a.dimension) for a in expected) == Counter(
            (b.value, b.dimension) for b in got)
    return False


_SYMBOL_DIMENSIONS = {"mass", "volume", "percent"}
"""Units written as symbols in most languages: a translation must write one too."""


_ANY_DIGIT = re.compile(r"\d")
DOSE_DIMENSIONS = frozenset({"mass", "volume", "iu", "times", "tablets", "capsules", "drops",
                             "puffs"})
"""Units of a dose: an amount of a medicine, or how often it is taken."""


@functools.lru_cache(maxsize=1 << 16)
def carries_dose(source: str) -> bool:
    """A number with a unit of a dose (see :data:`DOSE_DIMENSIONS`) in a source text."""
    if not _ANY_DIGIT.search(source) and not _MULTIPLE.search(source):
        return False
    return any(a.dimension in DOSE_DIMENSIONS for a in _source_amounts(source))


# -- negation ----------------------------------------------------------------------------------

_SOURCE_NEGATION = re.compile(
    r"\b(?:not|no|never|nor|cannot|without|avoid|n't)\b|n't\b", re.IGNORECASE)
_NEGATIONS: dict[str, re.Pattern[str]] = {
    "de": re.compile(r"\b(?:nicht|kein\w*|nie|niemals|ohne|weder|vermeiden)\b", re.I),
    "es": re.compile(r"\b(?:no|nunca|jamás|ni|sin|ningún|ninguna|ninguno|evite\w*)\b", re.I),
    "fr": re.compile(r"\b(?:ne|n'|pas|jamais|aucun\w*|sans|ni|évite\w*)\b|\bn'", re.I),
    "ar": re.compile("(?<![\u0621-\u064a])[وف]?(?:لا|لم|لن|ليس|ليست|غير|عدم|بدون|دون|ما)"
                     "(?![\u0621-\u064a])"),
    "zh": re.compile("[不没勿别未无非禁]"),
}


@functools.lru_cache(maxsize=1 << 15)
def _source_negation(source: str) -> str | None:
    """The first negation word of a source text (every language checks the same sources)."""
    found = _SOURCE_NEGATION.search(source)
    return found.group() if found else None


def negation_problem(source: str, translation: str, locale: Locale) -> str | None:
    """A source saying "not" whose translation says no "not" of its language."""
    word = _source_negation(source)
    if word is None:
        return None
    pattern = _NEGATIONS.get(locale.language)
    if pattern is None or pattern.search(translation) or _SOURCE_NEGATION.search(translation):
        return None  # (the source's own word: a pseudo-translation, a quotation)
    return f"negation dropped: the source says {word!r}, the translation has no negation"


def review_reasons(source: str) -> tuple[str, ...]:
    """Why a translation of ``source`` needs a medical review: it carries a dose, a negation."""
    reasons = []
    if carries_dose(source):
        reasons.append("dose")
    if _source_negation(source) is not None:
        reasons.append("negation")
    return tuple(reasons)


# -- invisible controls and scripts ------------------------------------------------------------

_BIDI_CONTROLS = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
                  "\u2068", "\u2069"}
_ZERO_WIDTH = {"\u200b", "\u2060", "\ufeff", "\u180e", "\u200c", "\u200d"}
_JOINERS = {"\u200c", "\u200d"}
_MARKS = {"\u200e", "\u200f", "\u061c"}
_INVISIBLE = re.compile("[" + "".join(sorted(_BIDI_CONTROLS | _ZERO_WIDTH | _MARKS)) + "]")
_RTL = {"ar", "fa", "he", "ur", "ps", "yi"}
_JOINING_SCRIPTS = {"Arab", "Deva", "Beng", "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda",
                    "Mlym", "Sinh"}
_SCRIPT_NAMES = {
    "Latn": ("LATIN",), "Cyrl": ("CYRILLIC",), "Grek": ("GREEK",), "Arab": ("ARABIC",),
    "Hebr": ("HEBREW",), "Hans": ("CJK",), "Hant": ("CJK",), "Hani": ("CJK",),
    "Jpan": ("CJK", "HIRAGANA", "KATAKANA"), "Kore": ("HANGUL", "CJK"), "Deva": ("DEVANAGARI",),
    "Thai": ("THAI",), "Beng": ("BENGALI",), "Taml": ("TAMIL",), "Geor": ("GEORGIAN",),
    "Armn": ("ARMENIAN",), "Ethi": ("ETHIOPIC",),
}


def language_script(locale: Locale) -> str:
    """The script a language is written in: its tag's, else CLDR's likely one (Babel)."""
    return _script(locale.language, locale.script)


@functools.lru_cache(maxsize=256)
def _script(language: str, script: str | None) -> str:
    if script:
        return str(script)
    from babel.core import get_global
    likely = str(get_global("likely_subtags").get(language, "")).split("_")
    return likely[1] if len(likely) > 1 and len(likely[1]) == 4 else "Latn"


def invisible_problems(translation: str, locale: Locale) -> list[str]:
    """Bidi embeddings, overrides and isolates, and zero-width characters: each can make a
    dose display as another (U+202E around ``500`` shows ``005``). Joiners stay allowed in
    scripts that need them, direction marks in right-to-left languages."""
    if translation.isascii() or not _INVISIBLE.search(translation):
        return []
    script = language_script(locale)
    problems = []
    for char in dict.fromkeys(_INVISIBLE.findall(translation)):
        if char in _JOINERS and script in _JOINING_SCRIPTS:
            continue
        if char in _MARKS and locale.language in _RTL:
            continue
        kind = "bidi control" if char in _BIDI_CONTROLS | _MARKS else "zero-width character"
        problems.append(f"invisible {kind} U+{ord(char):04X} "
                        f"({unicodedata.name(char, 'unnamed').lower()}): may change how the "
                        "text displays; remove it")
    return problems


def script_problem(source: str, translation: str, locale: Locale) -> str | None:
    """Letters of a script the language does not use (and the source has no word in):
    Cyrillic in a Spanish catalog. Latin stays allowed everywhere (names, abbreviations)."""
    if translation.isascii():
        return None
    script = language_script(locale)
    if script not in _SCRIPT_NAMES:
        return None
    allowed = ("LATIN", *_SCRIPT_NAMES[script])
    for char in _LETTERS_BEYOND_LATIN_1.findall(translation):
        foreign = _script_of(char)
        if foreign is None or not char.isalpha() or foreign.startswith(allowed) \
                or char in source:
            continue
        shown = foreign if foreign == "CJK" else foreign.title()
        return f"text in {shown} script, which {locale} does not use: {char!r}"
    return None


_LETTERS_BEYOND_LATIN_1 = re.compile("[^\\x00-\\u024f\\W\\d_]")
"""Letters past Latin Extended-B: the only ones whose script needs looking up."""


@functools.lru_cache(maxsize=4096)
def _script_of(char: str) -> str | None:
    """The script word of a letter's Unicode name (``CYRILLIC``), ``None`` for letters of no
    script (modifier letters, the micro sign)."""
    first = unicodedata.name(char, "").split(" ")[0]
    return None if first in {"", "MODIFIER", "MICRO", "FEMININE", "MASCULINE"} else first


COPIED = "identical to the source in a language written in another script: not translated"


def copied_source(source: str, translation: str, locale: Locale) -> bool:
    """A long message left in English in a language written in another script: untranslated,
    though a tool counts it as translated."""
    return translation == source and len(source) >= 20 and language_script(locale) != "Latn" \
        and any(c.isalpha() for c in source)
