"""Pages for people beside the feeds: one page per rendition, an index, an OPML list of feeds.

Rendition pages give the feeds' ``hreflang`` alternates somewhere real to point to; the
index lists languages and their feeds; ``feeds.opml`` lists every feed for feed readers.

Pure: values in, bytes out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from ..answers import Rendition, escape
from .feeds import Translation, content_html
from .layout import EXTENSIONS, FORMATS, MEDIA_TYPES


@dataclasses.dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed as listed in the index and the OPML file."""

    language: str
    title: str
    url: str
    """URL without extension (``…/es/feed``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageEntry:
    """A published language as listed in the index."""

    language: str
    direction: str
    name: str
    """The language's own name, e.g. ``español``."""
    feeds: tuple[FeedLink, ...]
    answers: int


def _attr(value: str) -> str:
    return escape(value)


def rendition_page(
    rendition: Rendition, translations: Sequence[Translation], self_url: str,
    overdue: str | None = None,
) -> bytes:
    """The HTML page of one rendition, with links to its other languages; ``overdue``: the
    notice shown when its review date has passed."""
    lang, direction = rendition.language, rendition.direction
    alternates = "".join(
        f'\n<link rel="alternate" hreflang="{_attr(t.language)}" href="{_attr(t.url)}">'
        for t in translations
    )
    others = "".join(
        f'<li><a href="{_attr(t.url)}" hreflang="{_attr(t.language)}" lang="{_attr(t.language)}">'
        f"{escape(t.title)}</a></li>"
        for t in translations
    )
    html = (
        "<!DOCTYPE html>\n"
        f'<html lang="{_attr(lang)}" dir="{_attr(direction)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(rendition.title)}</title>\n"
        f'<link rel="canonical" href="{_attr(rendition.url)}">\n'
        f'<link rel="alternate" hreflang="{_attr(lang)}" href="{_attr(self_url)}">'
        f"{alternates}\n</head>\n<body>\n<article>\n<h1>{escape(rendition.title)}</h1>\n"
        + (f'<p class="notice overdue" role="note"><strong>{escape(overdue)}</strong></p>\n'
           if overdue else "")
        + f"{content_html(rendition)}\n</article>\n"
        + (f"<nav><ul>{others}</ul></nav>\n" if others else "")
        + "</body>\n</html>\n"
    )
    return html.encode("utf-8")


def language_index(entry: LanguageEntry, pages: Sequence[tuple[str, str]]) -> bytes:
    """The page of one language: its feeds and its answers (``(url, title)``)."""
    feeds = "".join(_feed_items(entry.feeds))
    answers = "".join(
        f'<li><a href="{_attr(url)}">{escape(title)}</a></li>' for url, title in pages
    )
    html = (
        "<!DOCTYPE html>\n"
        f'<html lang="{_attr(entry.language)}" dir="{_attr(entry.direction)}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{escape(entry.name)}</title>\n</head>\n<body>\n'
        f"<h1>{escape(entry.name)}</h1>\n<ul>{feeds}</ul>\n<ul>{answers}</ul>\n</body>\n</html>\n"
    )
    return html.encode("utf-8")


def _feed_items(feeds: Sequence[FeedLink]) -> list[str]:
    items = []
    for feed in feeds:
        links = " · ".join(
            f'<a href="{_attr(feed.url + EXTENSIONS[fmt])}" type="{MEDIA_TYPES[fmt]}">{fmt}</a>'
            for fmt in FORMATS
        )
        items.append(f"<li>{escape(feed.title)}: {links}</li>")
    return items


def site_index(title: str, languages: Sequence[LanguageEntry]) -> bytes:
    """The front page: every published language and its feeds, each in its own language."""
    sections = []
    for entry in languages:
        feeds = "".join(_feed_items(entry.feeds))
        sections.append(
            f'<section lang="{_attr(entry.language)}" dir="{_attr(entry.direction)}">\n'
            f'<h2><a href="{_attr(entry.language)}/">{escape(entry.name)}</a></h2>\n'
            f"<ul>{feeds}</ul>\n</section>\n"
        )
    html = (
        '<!DOCTYPE html>\n<html lang="en" dir="ltr">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="outline" type="text/x-opml" href="feeds.opml">\n</head>\n<body>\n'
        f"<h1>{escape(title)}</h1>\n{''.join(sections)}</body>\n</html>\n"
    )
    return html.encode("utf-8")


def opml(title: str, languages: Sequence[LanguageEntry]) -> bytes:
    """OPML 2.0 list of every feed (Atom, RSS and JSON), grouped by language."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{escape(title)}</title></head>",
        "  <body>",
    ]
    for entry in languages:
        lines.append(
            f"    <outline text={quoteattr(entry.name)} language={quoteattr(entry.language)}>"
        )
        for feed in entry.feeds:
            for fmt in FORMATS:
                lines.append(
                    '      <outline type="rss" '
                    f"text={quoteattr(feed.title + ' (' + fmt + ')')} "
                    f"xmlUrl={quoteattr(feed.url + EXTENSIONS[fmt])} "
                    f"language={quoteattr(feed.language)}/>"
                )
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def gone_page(language: str, direction: str, heading: str, notice: str, title: str,
              home: str) -> bytes:
    """The page a withdrawn answer's URL answers with (410 Gone): a localized notice."""
    html = (
        "<!DOCTYPE html>\n"
        f'<html lang="{_attr(language)}" dir="{_attr(direction)}">\n<head>\n'
        '<meta charset="utf-8">\n<meta name="robots" content="noindex">\n'
        f"<title>{escape(heading)}</title>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(heading)}</h1>\n<p><del>{escape(title)}</del></p>\n"
        f"<p>{escape(notice)}</p>\n"
        f'<p><a href="{_attr(home)}">{escape(home)}</a></p>\n</main>\n</body>\n</html>\n'
    )
    return html.encode("utf-8")


def moved_page(language: str, title: str, location: str) -> bytes:
    """The body of a 301 from a page its answer moved away from."""
    html = (
        f'<!DOCTYPE html>\n<html lang="{_attr(language)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n"
        f'<p><a href="{_attr(location)}">{escape(title)}</a></p>\n</body>\n</html>\n'
    )
    return html.encode("utf-8")
