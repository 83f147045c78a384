"""The publication tree's layout: where each file lives, what it is, and its URL.

The tree::

    index.html, style.css, feeds.opml, manifest.json
    <lang>/index.html
    <lang>/feed.atom|.rss|.json               newest entries of the language
    <lang>/archive/<n>.atom|.rss|.json        RFC 5005 archives, oldest page is 1
    <lang>/<condition>/feed.atom|.rss|.json   the same per condition
    <lang>/<condition>/archive/<n>.*
    <lang>/<condition>/<slug>.html            one page per rendition

beside hidden files only the publisher reads (:data:`STATE`, :data:`STORE`). Every URL of
the tree is ``base_url`` (the ``base_url`` setting) followed by the file's path; feeds are
named without their extension (``es/feed``), each format adding its own.
"""

from __future__ import annotations

from typing import Literal

Format = Literal["atom", "rss", "json"]
FORMATS: tuple[Format, ...] = ("atom", "rss", "json")
EXTENSIONS: dict[Format, str] = {"atom": ".atom", "rss": ".rss", "json": ".json"}
MEDIA_TYPES: dict[Format, str] = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
OPML = "text/x-opml"

MANIFEST = "manifest.json"
"""Every published file with its ETag, Last-Modified, media type and size."""
STATE = ".syndicate-state.json"
"""What the next build needs (:mod:`syndicate.publication.state`)."""
STORE = ".syndicate-renditions"
"""The last published renditions, one JSON file per language."""


def site_url(base_url: str) -> str:
    """The URL the tree's paths are appended to (no trailing slash)."""
    return base_url.rstrip("/")


def hub_url(base_url: str) -> str:
    """The WebSub hub every feed names as ``rel="hub"``."""
    return f"{site_url(base_url)}/websub"


def feed_name(language: str, condition_slug: str | None = None) -> str:
    """The current feed of a language (``es/feed``) or of one condition in it
    (``es/lupus/feed``), without extension."""
    return f"{language}/{condition_slug}/feed" if condition_slug else f"{language}/feed"


def archive_name(feed: str, number: int) -> str:
    """Archive page ``number`` (from 1, the oldest) of a feed: ``es/archive/3``."""
    return f"{feed.rsplit('/', 1)[0]}/archive/{number}"


def page_path(language: str, condition_slug: str, slug: str) -> str:
    """The HTML page of an answer in a language: ``es/lupus/what-causes-lupus.html``."""
    return f"{language}/{condition_slug}/{slug}.html"


def page_url(base_url: str, language: str, condition_slug: str, slug: str) -> str:
    """The URL of an answer's page in a language."""
    return f"{site_url(base_url)}/{page_path(language, condition_slug, slug)}"


def feed_urls(base_url: str, language: str) -> dict[str, str]:
    """The URL of a language's main feed in each format."""
    base = f"{site_url(base_url)}/{feed_name(language)}"
    return {fmt: base + EXTENSIONS[fmt] for fmt in FORMATS}


def feed_media_type(path: str) -> str | None:
    """The media type of a feed file (or URL) by its extension; ``None`` if not a feed."""
    for fmt, extension in EXTENSIONS.items():
        if path.endswith(extension):
            return MEDIA_TYPES[fmt]
    return None
