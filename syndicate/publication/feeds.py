"""Feeds: the entries of a feed and its documents, and the checks every entry passes.

A rendition becomes an :class:`Item` (an entry: its link, when it first appeared, its other
languages); a feed's items are spread over :class:`Document`\\ s (the current document and
its RFC 5005 archives, :mod:`syndicate.publication.paging`), each written in every format
(:mod:`~syndicate.publication.atom`, :mod:`~syndicate.publication.jsonfeed`,
:func:`syndicate.publication.formats.render`).

Text a feed cannot carry (control characters, lone surrogates) is refused with a
:class:`~syndicate.errors.FeedError` naming the answer and language, before any XML is built.

Pure: values in, values out. Nothing here reads files or the clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import operator
import uuid
from collections.abc import Iterable

from ..answers import XML_INVALID, Labels, Rendition, escape
from ..errors import FeedError
from .layout import EXTENSIONS, Format

HISTORY_NS = "http://purl.org/syndication/history/1.0"
"""RFC 5005 (feed paging and archiving)."""
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
"""RFC 6721 (deleted entries)."""
REVIEW_NS = "urn:x-syndicate:review:1.0"
"""Syndicate's extension elements: review dates, staleness, the publisher's original page."""
_ID_NAMESPACE = uuid.UUID("6c0b3f5e-5f43-4d8e-9a55-3b1c3e0f9a11")
"""Namespace of the name-based UUIDs used as entry and feed ids (never change it)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Translation:
    """Another published language of the same answer."""

    language: str
    url: str
    title: str


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    """A rendition as an entry of a feed."""

    rendition: Rendition
    link: str
    """URL of the rendition's page in the publication tree (same language)."""
    published: dt.datetime
    """When the entry first appeared in a feed (UTC)."""
    translations: tuple[Translation, ...] = ()
    """Every *other* published language of the answer, sorted by language."""
    overdue: bool = False
    """Its ``review_due`` date has passed (it stays published, marked)."""

    @property
    def id(self) -> str:
        """The entry's id: stable per (answer, language), whatever the content."""
        return entry_id(self.rendition.answer_id, self.rendition.language)

    @property
    def updated(self) -> dt.datetime:
        """When the rendition last changed."""
        return self.rendition.updated


@dataclasses.dataclass(frozen=True, slots=True)
class Tombstone:
    """A withdrawn entry, announced in its feeds for a while (RFC 6721 ``at:deleted-entry``)."""

    ref: str
    """The id the entry had (:func:`entry_id`)."""
    when: dt.datetime
    """When it was withdrawn."""
    language: str
    comment: str
    """Localized: why the entry is gone."""
    link: str
    """Its former page (now answering 410 Gone)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """One feed document (current feed or an RFC 5005 archive), in every format.

    URLs are given without the format's extension (``…/es/feed``): each format links to
    documents of its own format.
    """

    feed_id: str
    language: str
    title: str
    subtitle: str
    publisher: str
    base: str
    """URL of this document without extension."""
    home_page_url: str
    hub_url: str
    items: tuple[Item, ...]
    """Newest first."""
    updated: dt.datetime
    """The newest entry's ``updated`` (never the build time)."""
    current: str | None = None
    """For an archive: URL of the current feed (without extension)."""
    prev_archive: str | None = None
    """URL of the next older archive (without extension), if any."""
    complete: bool = False
    """The document holds every entry of the feed (RFC 5005 ``fh:complete``)."""
    deleted: tuple[Tombstone, ...] = ()
    """Entries withdrawn recently, newest first (current documents only)."""

    def url(self, fmt: Format) -> str:
        """URL of this document in ``fmt``."""
        return self.base + EXTENSIONS[fmt]


@functools.lru_cache(maxsize=65536)
def entry_id(answer_id: str, language: str) -> str:
    """The id of an answer's entry in a language: a name-based ``urn:uuid``."""
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'answer/{answer_id}/{language}')}"


def feed_id(name: str) -> str:
    """The id of a feed, from its place in the tree (``es/feed``, ``es/lupus/feed``)."""
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'feed/{name}')}"


def newest_first(items: Iterable[Item]) -> tuple[Item, ...]:
    """Entries newest first; ties broken by id so the order never depends on input order."""
    return tuple(sorted(items, key=lambda item: (item.updated, item.id), reverse=True))


_RENDITION_FIELDS = tuple(f.name for f in dataclasses.fields(Rendition) if f.name != "labels")
_LABEL_FIELDS = tuple(f.name for f in dataclasses.fields(Labels))
_rendition_values = operator.attrgetter(*_RENDITION_FIELDS)
_label_values = operator.attrgetter(*_LABEL_FIELDS)


def fingerprint(rendition: Rendition) -> str:
    """A short stable digest of everything in a rendition (including ``updated``).

    Cheaper than :attr:`Rendition.content_hash` (no JSON); used to skip work whose inputs did
    not change.
    """
    parts = [*_rendition_values(rendition), *_label_values(rendition.labels)]
    data = "\x00".join(map(str, parts)).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# -- checks ----------------------------------------------------------------------------------


def _aware(value: dt.datetime, what: str, rendition: Rendition | None = None) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        if rendition is not None:
            raise FeedError(
                f"{what} {value.isoformat()} has no time zone",
                answer_id=rendition.answer_id, language=rendition.language, field=what,
            )
        raise FeedError(f"{what} {value.isoformat()} has no time zone", field=what)
    return value.astimezone(dt.UTC)


def _text_fields(rendition: Rendition) -> Iterable[tuple[str, str]]:
    for field in ("condition", "title", "summary_html", "summary_text", "body_html", "url",
                  "reviewed_by", "stale_notice"):
        value = getattr(rendition, field)
        if isinstance(value, str):
            yield field, value
    for label in dataclasses.fields(rendition.labels):
        value = getattr(rendition.labels, label.name)
        if isinstance(value, str):
            yield f"labels.{label.name}", value


def check_rendition(rendition: Rendition) -> None:
    """Refuse a rendition no feed can carry: :class:`FeedError` naming answer, language, field.

    Control characters and lone surrogates make feedgen fail while writing (after it accepted
    them), and would make the JSON feed unencodable; naive datetimes have no meaning in a feed.
    """
    for field, text in _text_fields(rendition):
        bad = XML_INVALID.search(text)
        if bad:
            raise FeedError(
                f"{field}: character U+{ord(bad.group()):04X} at offset {bad.start()} "
                "cannot appear in a feed",
                answer_id=rendition.answer_id, language=rendition.language, field=field,
            )
    _aware(rendition.updated, "updated", rendition)


def check_text(text: str, what: str) -> str:
    """Refuse feed-level text (titles, subtitles) no feed can carry."""
    bad = XML_INVALID.search(text)
    if bad:
        raise FeedError(f"{what}: character U+{ord(bad.group()):04X} cannot appear in a feed",
                        field=what)
    return text


@functools.lru_cache(maxsize=4096)
def _check_item(item: Item) -> None:
    # Memoized: an entry is in several documents, each in three formats. (A failing check
    # raises, and is not memoized.)
    check_rendition(item.rendition)
    _aware(item.published, "published", item.rendition)
    # Titles of the other languages go into the entry too (Atom alternates, JSON).
    for other in item.translations:
        for field, text in (("title", other.title), ("url", other.url)):
            bad = XML_INVALID.search(text)
            if bad:
                raise FeedError(
                    f"translations.{other.language}.{field}: character "
                    f"U+{ord(bad.group()):04X} cannot appear in a feed",
                    answer_id=item.rendition.answer_id, language=item.rendition.language,
                    field=f"translations.{other.language}.{field}",
                )


def check_document(doc: Document) -> None:
    """Check every entry and the feed-level text of a document."""
    for item in doc.items:
        _check_item(item)
    check_text(doc.title, "feed title")
    check_text(doc.subtitle, "feed subtitle")
    check_text(doc.publisher, "publisher")
    _aware(doc.updated, "feed updated")
    for tombstone in doc.deleted:
        check_text(tombstone.comment, "withdrawal notice")
        _aware(tombstone.when, "withdrawn")


# -- review metadata -------------------------------------------------------------------------


def review_fields(rendition: Rendition) -> list[tuple[str, str]]:
    """The review metadata of an entry as (element name, text), in document order."""
    fields = [("lastReviewed", rendition.reviewed.isoformat())]
    if rendition.review_due is not None:
        fields.append(("nextReviewDue", rendition.review_due.isoformat()))
    if rendition.reviewed_by:
        fields.append(("reviewedBy", rendition.reviewed_by))
    if rendition.stale:
        fields.append(("sourceReviewed", rendition.source_reviewed.isoformat()))
        fields.append(("stale", "true"))
    if rendition.translation_reviewed is not None:
        fields.append(("translationReviewed", rendition.translation_reviewed.isoformat()))
        fields.append(("translationReviewedBy", rendition.translation_reviewed_by or ""))
    fields.append(("original", rendition.url))
    return fields


CONDITION_SCHEME = "urn:x-syndicate:condition"
"""The scheme of the entries' condition categories (term: the condition's folder)."""


def _directed(rendition: Rendition, html: str) -> str:
    """``html`` in a block that names its language and direction, so a reader or widget
    embedding it in a page of another language shows Arabic right to left."""
    return (f'<div lang="{escape(rendition.language)}" dir="{escape(rendition.direction)}">'
            f"{html}</div>")


@functools.lru_cache(maxsize=1 << 15)
def content_html(rendition: Rendition) -> str:
    """:attr:`Rendition.content_html` with its language and direction, memoized: every
    format and page of an entry uses it."""
    return _directed(rendition, rendition.content_html)


@functools.lru_cache(maxsize=1 << 15)
def summary_html(rendition: Rendition) -> str:
    """The short answer with the attribution and the disclaimer (widgets that show only
    the summary keep them), with its language and direction."""
    labels = rendition.labels
    return _directed(rendition, (
        f"{rendition.summary_html}\n<p><em>{escape(labels.disclaimer)}</em></p>\n"
        f'<p>{escape(labels.attribution)} <a href="{escape(rendition.url)}">'
        f"{escape(labels.read_original)}</a></p>"))


def summary_text(rendition: Rendition) -> str:
    """The short answer as plain text, with the attribution and the disclaimer."""
    labels = rendition.labels
    return f"{rendition.summary_text}\n\n{labels.disclaimer}\n\n{labels.attribution}"


def newest(items: Iterable[Item], default: dt.datetime) -> dt.datetime:
    """The newest ``updated`` among ``items``, or ``default`` when there are none."""
    return max((item.updated for item in items), default=default)
