"""Checks on one translated message, before anything is published.

A translation must keep what a reader relies on: placeholders, URLs, Markdown link targets and
markup, and every number (doses, counts, percentages) once parsed the way its locale writes
them, so German ``2,5`` matches English ``2.5`` while ``7,5 mg`` for ``75 mg`` fails. It may not
bring HTML the source lacks, nor characters a feed cannot carry. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from babel import Locale
from babel.numbers import NumberFormatError, parse_decimal

from .render import XML_INVALID, markup_signature

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
URL = re.compile(r"https?://[^\s<>()\"'\]]+[^\s<>()\"'\].,;:!?]")
HTML_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)[^>]*>")
_NUMBER = re.compile(r"\d+(?:[.,\u00a0\u202f\u066b\u066c'\u2019 ]\d+)*")
COUNT_PLACEHOLDER = "n"


def _ascii_digits(text: str) -> str:
    return "".join(
        str(unicodedata.digit(ch)) if ch.isdigit() and not ch.isascii() else ch for ch in text
    )


def numbers(text: str, locale: Locale) -> Counter[Decimal]:
    """Every number in ``text`` parsed as ``locale`` writes numbers (placeholders ignored)."""
    text = _ascii_digits(URL.sub(" ", PLACEHOLDER.sub(" ", text)))
    found: Counter[Decimal] = Counter()
    for match in _NUMBER.finditer(text):
        raw = match.group().strip()
        value = _parse_number(raw, locale)
        if value is not None:
            found[value] += 1
        else:
            for part in re.split(r"[^\d]+", raw):
                if part:
                    found[Decimal(part)] += 1
    return found


def _parse_number(raw: str, locale: Locale) -> Decimal | None:
    compact = raw.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    compact = compact.replace("\u066b", ".").replace("\u066c", ",")
    try:
        return parse_decimal(compact, locale=locale, strict=True).normalize()
    except (NumberFormatError, InvalidOperation, ValueError):
        pass
    try:
        return parse_decimal(compact, locale="en", strict=True).normalize()
    except (NumberFormatError, InvalidOperation, ValueError):
        return None


_SOURCE_LOCALE = Locale.parse("en")


def check_message(
    source: Sequence[str],
    strings: Sequence[str],
    *,
    locale: Locale,
    plural_count: int,
) -> list[str]:
    """Problems of one translated message; ``source`` is ``(msgid,)`` or with its plural."""
    problems: list[str] = []
    plural = len(source) > 1
    if plural and len(strings) != plural_count:
        problems.append(
            f"plural has {len(strings)} forms, {locale} needs exactly {plural_count}"
        )
    source_text = source[-1] if plural else source[0]
    source_names = set(PLACEHOLDER.findall(" ".join(source)))
    seen_names: set[str] = set()
    for index, text in enumerate(strings):
        where = f"msgstr[{index}]: " if plural else ""
        bad = XML_INVALID.search(text)
        if bad:
            problems.append(f"{where}control character U+{ord(bad.group()):04X}")
        names = set(PLACEHOLDER.findall(text))
        seen_names |= names
        extra = names - source_names
        if extra:
            problems.append(f"{where}unknown placeholder {{{sorted(extra)[0]}}}")
        required = source_names - {COUNT_PLACEHOLDER} if plural else source_names
        missing = required - names
        if missing:
            problems.append(f"{where}placeholder {{{sorted(missing)[0]}}} dropped")
        for url in URL.findall(source_text):
            if url not in text:
                problems.append(f"{where}URL {url} changed or dropped")
        if markup_signature(text) != markup_signature(source_text):
            problems.append(f"{where}markup or link targets differ from the source")
        source_tags = {m.group(2).lower() for m in HTML_TAG.finditer(source_text)}
        for match in HTML_TAG.finditer(text):
            if match.group(2).lower() not in source_tags:
                problems.append(f"{where}HTML <{match.group(2)}> is not in the source")
                break
        if not plural:
            expected = numbers(source_text, _SOURCE_LOCALE)
            got = numbers(text, locale)
            if expected != got:
                problems.append(
                    f"{where}numbers differ: source has {_show(expected)}, translation {_show(got)}"
                )
    if plural and COUNT_PLACEHOLDER in source_names and COUNT_PLACEHOLDER not in seen_names:
        problems.append(f"placeholder {{{COUNT_PLACEHOLDER}}} appears in no plural form")
    return problems


def _show(values: Counter[Decimal]) -> str:
    return ", ".join(str(v) for v in sorted(values.elements())) or "none"
