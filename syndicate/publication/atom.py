"""Atom 1.0 and RSS 2.0 documents, built with feedgen 1.0.0 and steered around its pitfalls.

Every date is set explicitly (feedgen defaults to *now*), entries are appended in the order
given (it prepends by default), an entry's id is set once with ``id()`` (``guid()``
overwrites it), and entry links, ``xml:lang``, the review metadata, the hub and RFC 5005
links go through feedgen's extension API, because feedgen drops entry link attributes in
Atom and keeps only the last alternate as the RSS item link.

Pure: documents in, bytes out.
"""

from __future__ import annotations

import copy
import functools
import html
import re
from typing import Any, Literal

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from .. import __version__
from .._time import rfc3339
from .feeds import (
    CONDITION_SCHEME,
    HISTORY_NS,
    REVIEW_NS,
    TOMBSTONES_NS,
    Document,
    Item,
    check_document,
    content_html,
    review_fields,
    summary_html,
)
from .layout import EXTENSIONS, MEDIA_TYPES, Format

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _sub(parent: Any, tag: str, **attrib: str) -> Any:
    return etree.SubElement(parent, tag, attrib)


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    """Feed-level links feedgen cannot write: hub and RFC 5005 links, ``fh:complete``."""

    def __init__(self) -> None:
        self.doc: Document | None = None
        self.fmt: Format = "atom"

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS, "review": REVIEW_NS, "at": TOMBSTONES_NS, "dc": DC_NS}

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
        self._tombstones(feed, "link")
        return feed

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        for rel, href in self._links():
            _sub(channel, f"{{{ATOM_NS}}}link", rel=rel, href=href)
        self._history(channel)
        self._tombstones(channel, f"{{{ATOM_NS}}}link")
        return rss

    def _tombstones(self, parent: Any, link_tag: str) -> None:
        """RFC 6721 ``at:deleted-entry`` per recently withdrawn entry (in RSS as an
        extension element of the channel, the same markup). Feed-level extension elements
        come before the entries, as the Atom schema wants."""
        assert self.doc is not None
        for tombstone in self.doc.deleted:
            deleted = _sub(parent, f"{{{TOMBSTONES_NS}}}deleted-entry", ref=tombstone.ref,
                           when=rfc3339(tombstone.when))
            comment = _sub(deleted, f"{{{TOMBSTONES_NS}}}comment")
            comment.set(XML_LANG, tombstone.language)
            comment.text = tombstone.comment
            _sub(deleted, link_tag, rel="alternate", type="text/html", href=tombstone.link)

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
        self.publisher = ""

    def _review(self, entry: Any) -> None:
        assert self.item is not None
        for name, text in review_fields(self.item.rendition):
            _sub(entry, f"{{{REVIEW_NS}}}{name}").text = text
        if self.item.overdue:
            _sub(entry, f"{{{REVIEW_NS}}}overdue").text = "true"

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
        # RSS's <author> must be an e-mail address: the publisher goes in dc:creator.
        _sub(item, f"{{{DC_NS}}}creator").text = self.publisher
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


@functools.lru_cache(maxsize=4096)
def _entry_element(item: Item, fmt: Literal["atom", "rss"], publisher: str) -> Any:
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
    entry.syndicate.publisher = publisher
    entry.id(item.id)  # sets the RSS guid too (isPermaLink="false"); never call guid()
    entry.title(rendition.title)
    entry.updated(rendition.updated)
    entry.published(item.published)
    if fmt == "atom":
        entry.author(name=publisher)
        if rendition.reviewed_by:  # the medical reviewer contributed to the entry
            entry.contributor(name=rendition.reviewed_by)
    entry.category(term=rendition.condition_slug, scheme=CONDITION_SCHEME,
                   label=rendition.condition)
    entry.summary(summary_html(rendition), type="html")
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
        feed.append(copy.deepcopy(_entry_element(item, "atom", doc.publisher)))
    return _serialize(tree)


def render_rss(doc: Document) -> bytes:
    """The RSS 2.0 document (self, hub and archive links as ``atom:link``)."""
    check_document(doc)
    rss, tree = _generator(doc, "rss")._create_rss()
    channel = rss.find("channel")
    for item in doc.items:
        channel.append(copy.deepcopy(_entry_element(item, "rss", doc.publisher)))
    return _serialize(tree)
