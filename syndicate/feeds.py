"""Feeds: renditions to Atom 1.0, RSS 2.0 and JSON Feed 1.1 documents.

Atom and RSS are built with feedgen 1.0.0, steered around its pitfalls (see ``DESIGN.md``):
every date is set explicitly (it defaults to *now*), entries are appended in the order given
(it prepends by default), an entry's id is set once with ``id()`` (``guid()`` overwrites it),
and entry links, ``xml:lang``, the review metadata, the hub and RFC 5005 links go through its
extension API, because feedgen drops entry link attributes in Atom and keeps only the last
alternate as the RSS item link. JSON Feed is written from the 1.1 specification.

Text a feed cannot carry (control characters, lone surrogates) is refused with a
:class:`~syndicate.errors.FeedError` naming the answer and language, before any XML is built.

Pure: values in, bytes out. Nothing here reads files or the clock.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import hashlib
import html
import json
import operator
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from . import __version__
from .errors import FeedError
from .localize import Labels, Rendition
from .render import XML_INVALID

Format = Literal["atom", "rss", "json"]
FORMATS: tuple[Format, ...] = ("atom", "rss", "json")
EXTENSIONS: dict[Format, str] = {"atom": ".atom", "rss": ".rss", "json": ".json"}
MEDIA_TYPES: dict[Format, str] = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}

ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
"""RFC 5005 (feed paging and archiving)."""
REVIEW_NS = "urn:x-syndicate:review:1.0"
"""Syndicate's extension elements: review dates, staleness, the publisher's original page."""
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
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

    @property
    def id(self) -> str:
        """The entry's id: stable per (answer, language), whatever the content."""
        return entry_id(self.rendition.answer_id, self.rendition.language)

    @property
    def updated(self) -> dt.datetime:
        """When the rendition last changed."""
        return self.rendition.updated


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
    fields.append(("original", rendition.url))
    return fields


# -- feedgen extensions ----------------------------------------------------------------------


def _sub(parent: Any, tag: str, **attrib: str) -> Any:
    return etree.SubElement(parent, tag, attrib)


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    """Feed-level links feedgen cannot write: hub and RFC 5005 links, ``fh:complete``."""

    def __init__(self) -> None:
        self.doc: Document | None = None
        self.fmt: Format = "atom"

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS, "review": REVIEW_NS}

    def _links(self) -> list[tuple[str, str]]:
        assert self.doc is not None
        doc, ext = self.doc, EXTENSIONS[self.fmt]
        links = [("hub", doc.hub_url)]
        if doc.current is not None:
            links.append(("current", doc.current + ext))
        if doc.prev_archive is not None:
            links.append(("prev-archive", doc.prev_archive + ext))
        return links

    def extend_atom(self, feed: Any) -> Any:
        for rel, href in self._links():
            _sub(feed, "link", rel=rel, href=href)  # un-namespaced, like feedgen's own
        self._history(feed)
        return feed

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        for rel, href in self._links():
            _sub(channel, f"{{{ATOM_NS}}}link", rel=rel, href=href)
        self._history(channel)
        return rss

    def _history(self, parent: Any) -> None:
        assert self.doc is not None
        if self.doc.complete:
            _sub(parent, f"{{{HISTORY_NS}}}complete")
        elif self.doc.current is not None:
            _sub(parent, f"{{{HISTORY_NS}}}archive")


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Per entry: ``xml:lang``, links with their attributes, the review metadata."""

    def __init__(self) -> None:
        self.item: Item | None = None

    def _review(self, entry: Any) -> None:
        assert self.item is not None
        for name, text in review_fields(self.item.rendition):
            _sub(entry, f"{{{REVIEW_NS}}}{name}").text = text

    def extend_atom(self, entry: Any) -> Any:
        assert self.item is not None
        item, rendition = self.item, self.item.rendition
        entry.set(XML_LANG, rendition.language)
        # Inserted right after <updated>, where feedgen would have put links that keep
        # their attributes; one alternate per (type, hreflang).
        # feedgen builds Atom elements without a namespace (it writes ``xmlns`` as a plain
        # attribute), so added Atom elements must be un-namespaced too. The entry's own page
        # comes last: feedparser and others take the last HTML alternate as the entry link.
        position = 3
        links = [("via", rendition.url, "", rendition.labels.read_original)]
        links += [("alternate", t.url, t.language, t.title) for t in item.translations]
        links.append(("alternate", item.link, rendition.language, rendition.title))
        for rel, href, hreflang, title in links:
            link = etree.Element("link", rel=rel, type="text/html", href=href)
            if hreflang:
                link.set("hreflang", hreflang)
            link.set("title", title)
            entry.insert(position, link)
            position += 1
        self._review(entry)
        return entry

    def extend_rss(self, item: Any) -> Any:
        assert self.item is not None
        item.find("title").text = rss_title(self.item.rendition.title)
        link = etree.Element("link")
        link.text = self.item.link
        item.insert(1, link)
        self._review(item)
        return item


_LOOKS_LIKE_HTML = re.compile(r"</?[A-Za-z][^>]*>|&#?[A-Za-z0-9]+;")


def rss_title(title: str) -> str:
    """The text of an RSS title for a plain-text title.

    RSS does not say whether a title is text or HTML, and readers guess: a title that looks
    like markup (``<b>``, ``&amp;``) is read as HTML. Such a title is HTML-escaped first, so
    it shows literally; any other title is left as it is (XML escaping is lxml's job).
    """
    return html.escape(title, quote=False) if _LOOKS_LIKE_HTML.search(title) else title


def _generator(doc: Document, fmt: Format) -> Any:
    """The feed-level part of a document (no entries: see :func:`_entry_element`)."""
    fg = FeedGenerator()
    fg.register_extension("syndicate", _FeedExtension, _EntryExtension)
    fg.syndicate.doc = doc
    fg.syndicate.fmt = fmt
    fg.id(doc.feed_id)
    fg.title(doc.title)
    fg.subtitle(doc.subtitle)
    fg.language(doc.language)
    fg.author(name=doc.publisher)
    fg.generator("Syndicate", version=__version__)
    # feedgen makes the *last* link of any rel the RSS channel link: the alternate goes last.
    fg.link(href=doc.url(fmt), rel="self", type=MEDIA_TYPES[fmt])
    fg.link(href=doc.home_page_url, rel="alternate", type="text/html")
    fg.updated(doc.updated)  # also lastBuildDate; both default to now
    return fg


@functools.lru_cache(maxsize=1 << 15)
def content_html(rendition: Rendition) -> str:
    """:attr:`Rendition.content_html`, memoized: every format and page of an entry uses it."""
    return rendition.content_html


@functools.lru_cache(maxsize=4096)
def _entry_element(item: Item, fmt: Literal["atom", "rss"]) -> Any:
    """The entry element feedgen makes for ``item`` (never attached: callers copy it).

    An entry is in its language's feed and its condition's feed (and may move to an
    archive): it is built once per format and copied into each document, as feedgen would
    have built it there (a detached element, appended after the feed-level elements).
    The cache holds about four languages' entries.
    """
    rendition = item.rendition
    entry = FeedEntry()
    entry.register_extension("syndicate", _EntryExtension, atom=True, rss=True)
    entry.syndicate.item = item
    entry.id(item.id)  # sets the RSS guid too (isPermaLink="false"); never call guid()
    entry.title(rendition.title)
    entry.updated(rendition.updated)
    entry.published(item.published)
    entry.summary(rendition.summary_html, type="html")
    entry.content(content_html(rendition), type="html")
    return entry.atom_entry() if fmt == "atom" else entry.rss_entry()


def _serialize(tree: Any) -> bytes:
    # What feedgen's atom_str(pretty=True) and rss_str(pretty=True) do.
    return bytes(etree.tostring(tree, pretty_print=True, encoding="UTF-8", xml_declaration=True))


def render_atom(doc: Document) -> bytes:
    """The Atom 1.0 document."""
    check_document(doc)
    feed, tree = _generator(doc, "atom")._create_atom()
    for item in doc.items:
        feed.append(copy.deepcopy(_entry_element(item, "atom")))
    return _serialize(tree)


def render_rss(doc: Document) -> bytes:
    """The RSS 2.0 document (self, hub and archive links as ``atom:link``)."""
    check_document(doc)
    rss, tree = _generator(doc, "rss")._create_rss()
    channel = rss.find("channel")
    for item in doc.items:
        channel.append(copy.deepcopy(_entry_element(item, "rss")))
    return _serialize(tree)


# -- JSON Feed 1.1 ---------------------------------------------------------------------------


def _json_item(item: Item, publisher: str) -> dict[str, Any]:
    rendition = item.rendition
    review: dict[str, Any] = {
        "last_reviewed": rendition.reviewed.isoformat(),
        "next_review_due": rendition.review_due.isoformat() if rendition.review_due else None,
        "reviewed_by": rendition.reviewed_by,
        "stale": rendition.stale,
    }
    if rendition.stale:
        review["source_reviewed"] = rendition.source_reviewed.isoformat()
    review["translations"] = [
        {"language": t.language, "url": t.url, "title": t.title} for t in item.translations
    ]
    return {
        "id": item.id,
        "url": item.link,
        "external_url": rendition.url,
        "title": rendition.title,
        "summary": rendition.summary_text,
        "content_html": content_html(rendition),
        "date_published": _rfc3339(item.published),
        "date_modified": _rfc3339(rendition.updated),
        "authors": [{"name": publisher}],
        "language": rendition.language,
        "_syndicate": review,
    }


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def render_json(doc: Document) -> bytes:
    """The JSON Feed 1.1 document. Paging uses ``next_url`` (the next older document)."""
    check_document(doc)
    data: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": doc.title,
        "home_page_url": doc.home_page_url,
        "feed_url": doc.url("json"),
        "description": doc.subtitle,
        "authors": [{"name": doc.publisher}],
        "language": doc.language,
        "hubs": [{"type": "WebSub", "url": doc.hub_url}],
    }
    if doc.prev_archive is not None:
        data["next_url"] = doc.prev_archive + ".json"
    data["_syndicate"] = {
        "updated": _rfc3339(doc.updated),
        "complete": doc.complete,
        "current": doc.current + ".json" if doc.current is not None else None,
    }
    head = json.dumps(data, ensure_ascii=False, indent=2)
    # ``data`` with "items" as its last key, as json.dumps(indent=2) writes it: each item's
    # text is made once (memoized) for every document that holds it.
    assert head.endswith("\n}")
    if doc.items:
        items = ",\n".join(_json_item_text(item, doc.publisher) for item in doc.items)
        text = f'{head[:-2]},\n  "items": [\n{items}\n  ]\n}}'
    else:
        text = f'{head[:-2]},\n  "items": []\n}}'
    return (text + "\n").encode("utf-8")


@functools.lru_cache(maxsize=4096)
def _json_item_text(item: Item, publisher: str) -> str:
    """An item as ``json.dumps(indent=2)`` writes it inside the items list (indented twice).

    JSON strings never hold a raw line break (``\\n`` is escaped), so indenting every line
    gives the nested layout.
    """
    text = json.dumps(_json_item(item, publisher), ensure_ascii=False, indent=2)
    return "    " + text.replace("\n", "\n    ")


RENDERERS = {"atom": render_atom, "rss": render_rss, "json": render_json}


def render(doc: Document, fmt: Format) -> bytes:
    """``doc`` in ``fmt``."""
    return RENDERERS[fmt](doc)


# -- RFC 5005 paging -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """How a feed's entries are spread over the current document and its archives."""

    current: tuple[Item, ...]
    """Newest first: the newest ``size`` entries, plus any entry not in an archive."""
    archives: tuple[tuple[Item, ...], ...]
    """Archive pages, oldest page first; each page's entries newest first."""
    pages: tuple[tuple[str, ...], ...]
    """Entry ids of every archive page, to be kept for the next build."""


def _archive_order(item: Item) -> tuple[dt.datetime, str]:
    return (item.published, item.id)


def plan(
    items: Sequence[Item], size: int, frozen: Sequence[Sequence[str]] = ()
) -> Plan:
    """Spread a feed's entries over a current document and RFC 5005 archive pages.

    ``frozen`` lists the entry ids of the archive pages made by earlier builds: they keep
    their members (an entry that left the feed leaves its page; nothing moves between pages).
    Entries in no page are archived, oldest published first, in pages of ``size`` while
    more than ``size`` of them remain, so adding entries only ever adds new pages and never
    changes an existing one. The current document holds the newest ``size`` entries by
    ``updated`` plus every entry not yet archived, so each entry is in at least one document.
    """
    by_id = {item.id: item for item in items}
    pages: list[list[str]] = []
    archived: set[str] = set()
    for page in frozen:
        members = [entry for entry in page if entry in by_id and entry not in archived]
        archived.update(members)
        pages.append(members)
    loose = sorted((item for item in items if item.id not in archived), key=_archive_order)
    while len(loose) > size:
        page_items, loose = loose[:size], loose[size:]
        pages.append([item.id for item in page_items])
    ordered = newest_first(items)
    current_ids = {item.id for item in ordered[:size]} | {item.id for item in loose}
    current = tuple(item for item in ordered if item.id in current_ids)
    archives = tuple(newest_first(by_id[entry] for entry in page) for page in pages)
    return Plan(current, archives, tuple(tuple(page) for page in pages))


def newest(items: Iterable[Item], default: dt.datetime) -> dt.datetime:
    """The newest ``updated`` among ``items``, or ``default`` when there are none."""
    return max((item.updated for item in items), default=default)
