"""Renditions: an answer in one language, complete or refused with reasons.

A rendition is published only when complete: every message of the answer (condition name,
question, every block) and every interface string it shows is translated, not fuzzy, and passes
the checks. Otherwise :func:`localize` returns an :class:`Incomplete` listing why, and the
language keeps its last complete rendition (kept by the state store) or has none. Languages are
never mixed inside one rendition.

Pure: answers and catalogs in, renditions out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from typing import Any, Literal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal

from . import ui
from .catalogs import CONDITION_CONTEXT, Key, LanguageCatalog
from .content import Answer
from .render import body_html, escape, inline_text

Direction = Literal["ltr", "rtl"]


@dataclasses.dataclass(frozen=True, slots=True)
class Labels:
    """The interface strings of one rendition, already translated and filled in."""

    medically_reviewed: str
    short_answer: str
    last_reviewed: str
    review_due: str | None
    reviewed_by: str | None
    experiences: str | None
    disclaimer: str
    attribution: str
    read_original: str

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled as the constructor's arguments: two to three times faster than the default
        # for a slotted dataclass, and the localization cache and the worker processes
        # pickle tens of thousands of them.
        return (type(self), tuple(getattr(self, name) for name in _LABEL_FIELDS))


@dataclasses.dataclass(frozen=True, slots=True)
class Rendition:
    """An answer in one language, complete and fit to publish."""

    answer_id: str
    language: str
    """BCP 47 tag, e.g. ``es`` or ``zh-Hans``."""
    direction: Direction
    condition: str
    """Localized name of the condition."""
    condition_slug: str
    slug: str
    title: str
    """Localized question, plain text."""
    summary_html: str
    """The short answer, sanitized HTML."""
    summary_text: str
    """The short answer, plain text."""
    body_html: str
    """The whole answer (short answer and sections), sanitized HTML."""
    url: str
    """Canonical URL of the answer's page at the publisher."""
    reviewed: dt.date
    """Date of the medical review this rendition shows."""
    review_due: dt.date | None
    reviewed_by: str | None
    experiences: int
    labels: Labels
    updated: dt.datetime
    """When this rendition last changed (UTC); never the build time."""
    source_hash: str
    """Hash of the source answer this rendition was made from."""
    source_reviewed: dt.date
    """Review date of the current source; later than ``reviewed`` when stale."""
    stale_notice: str | None = None
    """Set when the source was re-reviewed and this language still shows an older version."""
    translation_reviewed: dt.date | None = None
    """When a clinician reviewed this language's translation (``None``: no record)."""
    translation_reviewed_by: str | None = None
    """Who reviewed the translation (see :mod:`syndicate.answers.provenance`)."""

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled as the constructor's arguments: two to three times faster than the default
        # for a slotted dataclass, and the localization cache and the worker processes
        # pickle tens of thousands of them.
        return (type(self), tuple(getattr(self, name) for name in _RENDITION_FIELDS))

    @property
    def stale(self) -> bool:
        """The source was re-reviewed after the version this rendition shows."""
        return self.source_reviewed > self.reviewed

    @property
    def content_hash(self) -> str:
        """SHA-256 of everything a reader sees, in a canonical form."""
        data = self.to_dict()
        data.pop("updated")
        canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def content_html(self) -> str:
        """The full item: notice, body, experiences, review dates, disclaimer, attribution."""
        labels = self.labels
        parts: list[str] = []
        if self.stale_notice:
            parts.append(f"<p><strong>{escape(self.stale_notice)}</strong></p>")
        parts.append(self.body_html)
        if labels.experiences:
            parts.append(f"<p>{escape(labels.experiences)}</p>")
        review = [labels.medically_reviewed, labels.last_reviewed]
        if labels.review_due:
            review.append(labels.review_due)
        if labels.reviewed_by:
            review.append(labels.reviewed_by)
        # One line each, no separator between them: a separator is a language's own.
        parts.append("<p>" + "<br>".join(escape(text) for text in review) + "</p>")
        parts.append(f"<p><em>{escape(labels.disclaimer)}</em></p>")
        parts.append(
            f'<p>{escape(labels.attribution)}<br><a href="{escape(self.url)}">'
            f"{escape(labels.read_original)}</a></p>"
        )
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, for the state store."""
        # What dataclasses.asdict gives (every value is a str, date, int or None, labels a
        # flat dataclass), without its generic deep copy.
        data = {name: getattr(self, name) for name in _RENDITION_FIELDS}
        labels = self.labels
        data["labels"] = {name: getattr(labels, name) for name in _LABEL_FIELDS}
        for key in ("reviewed", "review_due", "source_reviewed", "updated"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        if self.translation_reviewed is None:
            # Absent rather than null: renditions without a record keep their content hash.
            del data["translation_reviewed"], data["translation_reviewed_by"]
        else:
            data["translation_reviewed"] = self.translation_reviewed.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rendition:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        for key in ("reviewed", "review_due", "source_reviewed", "translation_reviewed"):
            if values.get(key):
                values[key] = dt.date.fromisoformat(values[key])
        values["updated"] = dt.datetime.fromisoformat(values["updated"])
        values["labels"] = Labels(**values["labels"])
        return cls(**values)


_RENDITION_FIELDS = tuple(field.name for field in dataclasses.fields(Rendition))
_LABEL_FIELDS = tuple(field.name for field in dataclasses.fields(Labels))


@dataclasses.dataclass(frozen=True, slots=True)
class Incomplete:
    """Why an answer cannot be published in a language yet."""

    answer_id: str
    language: str
    reasons: tuple[str, ...]
    """``line N: <message start>: fuzzy`` and the like, one per unusable message."""


class _CatalogTranslator:
    """A :class:`ui.Translator` over usable entries only, recording what it had to miss."""

    def __init__(self, catalog: LanguageCatalog) -> None:
        self.catalog = catalog
        self.missing: list[str] = []

    def _lookup(self, key: Key) -> str | tuple[str, ...] | None:
        found = self.catalog.usable(key)
        if found is None:
            self.missing.append(f"interface {key[1][:50]!r}: {self.catalog.why_not(key)}")
        return found

    def gettext(self, message: str) -> str:
        found = self._lookup((None, message))
        return found if isinstance(found, str) else message

    def pgettext(self, context: str, message: str) -> str:
        found = self._lookup((context, message))
        return found if isinstance(found, str) else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self._lookup((None, singular))
        if isinstance(found, tuple):
            index = self.catalog.plural(n)
            if 0 <= index < len(found):
                return found[index]
            self.missing.append(f"interface {singular[:50]!r}: no plural form {index}")
        return singular if n == 1 else plural


def translator_for(catalog: LanguageCatalog | None) -> ui.Translator:
    """The interface-string translator of a language; ``None`` means the source language."""
    if catalog is None:
        return ui.SourceTranslator()
    return _CatalogTranslator(catalog)


@functools.lru_cache(maxsize=256)
def direction(locale: Locale) -> Direction:
    """Text direction of a locale (memoized: every rendition of a language asks)."""
    return "rtl" if locale.character_order == "right-to-left" else "ltr"


@functools.lru_cache(maxsize=8192)
def _count(value: int, locale: Locale) -> str:
    # Few distinct counts per corpus; CLDR number formatting is not cheap.
    return str(format_decimal(value, locale=locale))


@functools.lru_cache(maxsize=8192)
def _long_date(value: dt.date, locale: Locale) -> str:
    # A corpus has few distinct review dates; CLDR formatting is not cheap.
    return str(format_date(value, format="long", locale=locale))


@functools.lru_cache(maxsize=4096)
def _source_hash(answer: Answer) -> str:
    # Every language's rendition of an answer carries the same hash.
    return answer.source_hash


def _labels(
    t: ui.Translator, answer: Answer, locale: Locale, condition: str, publisher: str
) -> Labels:
    def day(value: dt.date) -> str:
        return _long_date(value, locale)

    experiences = None
    if answer.experiences:
        count = _count(answer.experiences, locale)
        experiences = ui.experiences(t, answer.experiences, count, condition, publisher)
    return Labels(
        medically_reviewed=ui.medically_reviewed(t),
        short_answer=ui.short_answer(t),
        last_reviewed=ui.last_reviewed(t, day(answer.reviewed)),
        review_due=ui.review_due(t, day(answer.review_due)) if answer.review_due else None,
        reviewed_by=ui.reviewed_by(t, answer.reviewed_by) if answer.reviewed_by else None,
        experiences=experiences,
        disclaimer=ui.disclaimer(t),
        attribution=ui.attribution(t, publisher),
        read_original=ui.read_original(t),
    )


def _assemble(
    answer: Answer,
    language: str,
    locale: Locale,
    t: ui.Translator,
    condition: str,
    question: str,
    texts: list[str],
    publisher: str,
    updated: dt.datetime,
) -> Rendition:
    pairs = list(zip(answer.blocks, texts, strict=True))
    short = [(block, text) for block, text in pairs if not block.section]
    return Rendition(
        answer_id=answer.id,
        language=language,
        direction=direction(locale),
        condition=condition,
        condition_slug=answer.condition_slug,
        slug=answer.slug,
        title=inline_text(question),
        summary_html=body_html(short),
        summary_text=" ".join(inline_text(text) for _, text in short),
        body_html=body_html(pairs),
        url=answer.url,
        reviewed=answer.reviewed,
        review_due=answer.review_due,
        reviewed_by=answer.reviewed_by,
        experiences=answer.experiences,
        labels=_labels(t, answer, locale, condition, publisher),
        updated=updated,
        source_hash=_source_hash(answer),
        source_reviewed=answer.reviewed,
    )


@functools.lru_cache(maxsize=64)
def _source_locale(language: str) -> Locale:
    # Parsed once, not once per answer: Babel builds a new Locale on every parse.
    return Locale.parse(language.replace("-", "_"))


def localize_source(answer: Answer, language: str, publisher: str) -> Rendition:
    """The rendition of an answer in its own (source) language."""
    locale = _source_locale(language)
    texts = [block.text for block in answer.blocks]
    t = ui.SourceTranslator()
    return _assemble(
        answer, language, locale, t, answer.condition, answer.question, texts, publisher,
        answer.changed_at,
    )


def localize(answer: Answer, catalog: LanguageCatalog, publisher: str) -> Rendition | Incomplete:
    """The rendition of ``answer`` in the catalog's language, or why there is none."""
    reasons: list[str] = []

    def translate(context: str, text: str, line: int) -> str:
        found = catalog.usable((context, text))
        if isinstance(found, str):
            return found
        reasons.append(f"line {line}: {text[:50]!r}: {catalog.why_not((context, text))}")
        return text

    condition = translate(CONDITION_CONTEXT, answer.condition, answer.condition_line)
    question = translate(answer.id, answer.question, answer.question_line)
    texts = [translate(answer.id, block.text, block.line) for block in answer.blocks]
    t = _CatalogTranslator(catalog)
    updated = answer.changed_at
    if catalog.revised is not None and catalog.revised > updated:
        updated = catalog.revised
    rendition = _assemble(
        answer, catalog.language, catalog.locale, t, condition, question, texts, publisher, updated
    )
    reasons.extend(dict.fromkeys(t.missing))
    if reasons:
        return Incomplete(answer.id, catalog.language, tuple(reasons))
    review = catalog.reviews.get(answer.id)
    if review is not None:
        rendition = dataclasses.replace(rendition, translation_reviewed=review.date,
                                        translation_reviewed_by=review.reviewer)
    return rendition


def mark_stale(previous: Rendition, answer: Answer, catalog: LanguageCatalog | None) -> Rendition:
    """Keep ``previous`` (the last complete rendition) with a notice that the source moved on.

    The notice is translated with ``catalog`` when it can be, so the entry stays in one
    language; otherwise the entry is republished without a new notice text but with both
    review dates in its metadata.
    """
    notice = None
    if catalog is not None:
        t = _CatalogTranslator(catalog)
        def day(value: dt.date) -> str:
            return format_date(value, format="long", locale=catalog.locale)
        text = ui.stale_notice(t, day(previous.reviewed), day(answer.reviewed))
        notice = None if t.missing else text
    return dataclasses.replace(
        previous, source_reviewed=answer.reviewed, source_hash=answer.source_hash,
        stale_notice=notice,
    )

