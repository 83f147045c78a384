"""Checks on one translated message, before anything is published.

A translation must keep what a reader relies on: placeholders, URLs, Markdown link targets and
markup, and every number (doses, counts, percentages) once parsed the way its locale writes
them, so German ``2,5`` matches English ``2.5`` while ``7,5 mg`` for ``75 mg`` fails. It may not
bring HTML, script URLs or placeholders the source lacks, nor characters a feed cannot carry.
A plural entry has exactly the language's number of forms. Pure functions.

These checks are the first line; :mod:`syndicate.answers.render` sanitizes whatever is
published anyway.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation

from babel import Locale
from babel.numbers import NumberFormatError, parse_decimal

from . import clinical
from .render import XML_INVALID, markup_signature

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
URL = re.compile(r"https?://[^\s<>()\"'\]]+[^\s<>()\"'\].,;:!?]")
HTML_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)[^>]*>")
HTML_START = re.compile(r"<\s*(/?\s*[A-Za-z][A-Za-z0-9-]*|!|\?)")
"""The start of anything an HTML parser could take for markup, closed by ``>`` or not."""
SCRIPT_URL = re.compile(r"(?<![A-Za-z0-9+.-])(?:javascript|vbscript|data)\s*:", re.IGNORECASE)
# Digits grouped by the separators locales use: . , NBSP, narrow NBSP, Arabic decimal and
# thousands signs, apostrophes (de-CH), space.
_NUMBER = re.compile("\\d+(?:[.,\u00a0\u202f\u066b\u066c'\u2019 ]\\d+)*")
COUNT_PLACEHOLDER = "n"
_FORMATTER = string.Formatter()


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    return _OTHER_DIGIT.sub(lambda match: str(unicodedata.digit(match.group())), text)


def _number_tokens(text: str) -> list[str]:
    """The numbers of ``text`` as written (ASCII digits), placeholders and URLs left out."""
    if PLACEHOLDER.search(text) or "://" in text:
        text = URL.sub(" ", PLACEHOLDER.sub(" ", text))
    return [match.group().strip() for match in _NUMBER.finditer(_ascii_digits(text))]


@functools.lru_cache(maxsize=1 << 15)
def _source_number_tokens(source_text: str) -> tuple[str, ...]:
    """:func:`_number_tokens` of a source text, which every language checks against."""
    return tuple(_number_tokens(source_text))


def numbers(text: str, locale: Locale) -> Counter[Decimal]:
    """Every number in ``text`` parsed as ``locale`` writes numbers (placeholders ignored)."""
    return _parse_tokens(_number_tokens(text), locale)


def _parse_tokens(tokens: list[str], locale: Locale) -> Counter[Decimal]:
    found: Counter[Decimal] = Counter()
    for raw in tokens:
        if raw.isdigit():
            found[Decimal(raw)] += 1
            continue
        value = _parse_number(raw, str(locale))
        if value is not None:
            found[value] += 1
        else:
            for part in re.split(r"[^\d]+", raw):
                if part:
                    found[Decimal(part)] += 1
    return found


@functools.lru_cache(maxsize=4096)
def _parse_number(raw: str, locale: str) -> Decimal | None:
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


def _format_fields(text: str) -> list[str] | None:
    """Field names of ``text`` read as a ``str.format`` string; ``None`` if it cannot be."""
    try:
        return [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError:
        return None


def _placeholder_problems(
    text: str, source_names: frozenset[str], required: frozenset[str], formatted: bool
) -> Iterator[str]:
    names = set(PLACEHOLDER.findall(text))
    extra = names - source_names
    for name in sorted(extra):
        yield f"unknown placeholder {{{name}}}"
    for name in sorted(required - names):
        yield f"placeholder {{{name}}} dropped"
    if formatted:
        # The string goes through str.format: a stray brace or a field such as {n.__class__}
        # would raise or leak at render time.
        fields = _format_fields(text)
        if fields is None:
            yield "braces do not form valid placeholders (write {{ and }} for literal braces)"
        else:
            for name in sorted({name for name in fields if name not in source_names} - extra):
                yield f"placeholder {{{name}}} is not in the source"


@functools.lru_cache(maxsize=1 << 15)
def _source_links(source_text: str) -> tuple[dict[str, int], int]:
    """URLs (in order, counted) and script URLs of a source text, which every language uses."""
    return dict(Counter(URL.findall(source_text))), len(SCRIPT_URL.findall(source_text))


_source_signature = functools.lru_cache(maxsize=1 << 15)(markup_signature)
""":func:`.render.markup_signature` of a source text, which every language compares with."""


def _link_problems(text: str, source_text: str) -> Iterator[str]:
    source_urls, source_scripts = _source_links(source_text)
    for url in source_urls:
        if url not in text:
            yield f"URL {url} changed or dropped"
    # Both patterns need a colon (URL even "://"): most text has none and skips them.
    if "://" in text:
        for url in URL.findall(text):
            if url not in source_urls:
                yield f"URL {url} is not in the source"
                break
    if markup_signature(text) != _source_signature(source_text):
        yield "markup or link targets differ from the source"
    if ":" in text and len(SCRIPT_URL.findall(text)) > source_scripts:
        yield "script or data URL is not in the source"


def _html_problems(text: str, source_text: str) -> Iterator[str]:
    if "<" not in text:
        return  # both patterns start with "<": nothing to find
    def normal(tag: str) -> str:
        return re.sub(r"\s+", " ", tag.lower()).strip()

    source_tags = {normal(m.group()) for m in HTML_TAG.finditer(source_text)}
    source_starts = {normal(m.group()) for m in HTML_START.finditer(source_text)}
    for match in HTML_TAG.finditer(text):
        if normal(match.group()) not in source_tags:
            yield f"HTML <{match.group(2)}> is not in the source"
            return
    for match in HTML_START.finditer(text):
        if normal(match.group()) not in source_starts:
            yield f"HTML {match.group()!r} is not in the source"
            return


def _newline_problems(source_text: str, text: str) -> Iterator[str]:
    """``msgfmt`` refuses a translation that does not begin and end with a line break
    exactly where its source does."""
    if source_text.startswith("\n") != text.startswith("\n"):
        yield "'msgid' and 'msgstr' entries do not both begin with '\\n'"
    if source_text.endswith("\n") != text.endswith("\n"):
        yield "'msgid' and 'msgstr' entries do not both end with '\\n'"


@functools.lru_cache(maxsize=1 << 15)
def _source_placeholders(source: tuple[str, ...]
                         ) -> tuple[frozenset[str], bool, frozenset[str]]:
    """The placeholders of a source (every language checks against the same), whether its
    strings go through ``str.format``, and the placeholders every form must keep."""
    names = frozenset(PLACEHOLDER.findall(" ".join(source)))
    # Only strings holding placeholders are formatted with str.format (see syndicate.answers.ui).
    formatted = bool(names) and all(_format_fields(s) is not None for s in source)
    required = names - {COUNT_PLACEHOLDER} if len(source) > 1 else names
    return names, formatted, required


def check_message(
    source: Sequence[str],
    strings: Sequence[str],
    *,
    locale: Locale,
    plural_count: int,
) -> list[str]:
    """Problems of one translated message; ``source`` is ``(msgid,)`` or with its plural.

    ``strings`` is ``(msgstr,)`` or the plural forms. Each problem is a short sentence;
    plural forms are prefixed ``msgstr[N]:``.
    """
    problems: list[str] = []
    plural = len(source) > 1
    if plural and len(strings) != plural_count:
        problems.append(f"plural has {len(strings)} forms, {locale} needs exactly {plural_count}")
    source_text = source[-1] if plural else source[0]
    source_names, formatted, required = _source_placeholders(tuple(source))
    seen_names: set[str] = set()
    for index, text in enumerate(strings):
        where = f"msgstr[{index}]: " if plural else ""
        found: list[str] = []
        bad = XML_INVALID.search(text)
        if bad:
            found.append(f"control character U+{ord(bad.group()):04X}")
        seen_names |= set(PLACEHOLDER.findall(text))
        found.extend(_placeholder_problems(text, source_names, required, formatted))
        found.extend(_link_problems(text, source_text))
        found.extend(_html_problems(text, source_text))
        found.extend(_newline_problems(source[0], text))
        found.extend(clinical.invisible_problems(text, locale))
        script = clinical.script_problem(source_text, text, locale)
        if script:
            found.append(script)
        if not plural:
            found.extend(p for p in (clinical.amount_problem(source_text, text, locale),
                                     clinical.negation_problem(source_text, text, locale))
                         if p)
        problems.extend(where + problem for problem in found)
    if plural and COUNT_PLACEHOLDER in source_names and COUNT_PLACEHOLDER not in seen_names:
        problems.append(f"placeholder {{{COUNT_PLACEHOLDER}}} appears in no plural form")
    return problems
