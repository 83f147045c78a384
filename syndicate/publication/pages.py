"""Pages for people and crawlers beside the feeds: one page per rendition, the indexes, the
withdrawn and moved pages, the stylesheet, and an OPML list of feeds.

HTML comes from Jinja2 templates (``templates/``, autoescaped): every page names its
language and direction, links the stylesheet of the tree (no external assets) by a relative
path, and announces its feeds for autodiscovery (``<link rel="alternate">`` for Atom, RSS and
JSON Feed). An answer's page is canonical to itself, lists every language of the answer as an
``hreflang`` alternate (itself included) with ``x-default`` on the source language's page,
carries schema.org ``MedicalWebPage`` JSON-LD, and lists its other languages bidi-safely
(``lang`` and ``dir="auto"`` on each link, titles isolated in ``<bdi>``). The page is built
from the rendition's parts (stale and overdue notices, review badge, body, review dates,
disclaimer, attribution), so no separator is written in a language's text: lists are lists.

Pure: values in, bytes out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any
from xml.sax.saxutils import quoteattr

import jinja2
from markupsafe import Markup

from ..answers import Rendition, escape
from .feeds import Translation
from .layout import EXTENSIONS, FORMATS, MEDIA_TYPES

STYLESHEET = "style.css"
"""The stylesheet every page links, at the root of the tree."""
FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}


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


@dataclasses.dataclass(frozen=True, slots=True)
class PageContext:
    """What an answer's page says beyond its rendition."""

    self_url: str
    x_default: str
    """The source language's page (or this one when the source does not publish it)."""
    feeds: tuple[FeedLink, ...]
    """The language's feed and the condition's feed (autodiscovery)."""
    publisher: str
    published: dt.datetime
    source_language: str
    other_languages: str
    """The localized heading of the list of other languages."""
    overdue: str | None = None
    """The localized notice shown when the review date has passed."""


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("syndicate.publication", "templates"),
        autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


def _render(template: str, **values: Any) -> bytes:
    return _environment().get_template(template).render(**values).encode("utf-8")


def stylesheet() -> bytes:
    """The tree's stylesheet."""
    return resources.files("syndicate.publication").joinpath("templates", STYLESHEET).read_bytes()


def _root(depth: int) -> str:
    """The relative path from a page ``depth`` folders deep to the root of the tree."""
    return "../" * depth


def _discovery(feeds: Sequence[FeedLink]) -> list[dict[str, str]]:
    return [{"type": MEDIA_TYPES[fmt], "title": f"{feed.title} ({FORMAT_LABELS[fmt]})",
             "url": feed.url + EXTENSIONS[fmt], "language": feed.language}
            for feed in feeds for fmt in FORMATS]


def _groups(feeds: Sequence[FeedLink]) -> list[dict[str, Any]]:
    return [{"title": feed.title, "formats": [
        {"url": feed.url + EXTENSIONS[fmt], "type": MEDIA_TYPES[fmt], "label": FORMAT_LABELS[fmt]}
        for fmt in FORMATS]} for feed in feeds]


def json_ld(rendition: Rendition, context: PageContext) -> str:
    """schema.org ``MedicalWebPage`` of an answer's page, safe inside ``<script>``."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MedicalWebPage",
        "name": rendition.title,
        "url": context.self_url,
        "inLanguage": rendition.language,
        "lastReviewed": rendition.reviewed.isoformat(),
        "datePublished": context.published.isoformat().replace("+00:00", "Z"),
        "about": {"@type": "MedicalCondition", "name": rendition.condition},
        "publisher": {"@type": "Organization", "name": context.publisher},
    }
    if rendition.reviewed_by:
        data["reviewedBy"] = {"@type": "Person", "name": rendition.reviewed_by}
    if rendition.language != context.source_language:
        data["translationOfWork"] = {"@type": "MedicalWebPage", "url": rendition.url,
                                     "inLanguage": context.source_language}
    else:
        data["sameAs"] = rendition.url
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def rendition_page(rendition: Rendition, translations: Sequence[Translation],
                   context: PageContext) -> bytes:
    """The HTML page of one rendition (see the module doc)."""
    lang = rendition.language
    alternates = sorted([*translations, Translation(lang, context.self_url, rendition.title)],
                        key=lambda t: t.language)
    return _render(
        "answer.html", lang=lang, direction=rendition.direction, title=rendition.title,
        root=_root(2), self_url=context.self_url, alternates=alternates,
        x_default=context.x_default, feeds=_discovery(context.feeds),
        json_ld=Markup(json_ld(rendition, context)), overdue=context.overdue,
        stale=rendition.stale_notice, labels=rendition.labels, original=rendition.url,
        body=Markup(rendition.body_html), others=list(translations),
        other_languages=context.other_languages,
    )


def language_index(entry: LanguageEntry, pages: Sequence[tuple[str, str]]) -> bytes:
    """The page of one language: its feeds and its answers (``(url, title)``)."""
    return _render("language.html", lang=entry.language, direction=entry.direction,
                   title=entry.name, root=_root(1), feeds=_discovery(entry.feeds[:1]),
                   feed_groups=_groups(entry.feeds), answers=list(pages))


def site_index(title: str, languages: Sequence[LanguageEntry]) -> bytes:
    """The front page: every published language and its feeds, each in its own language."""
    sections = [{"language": e.language, "direction": e.direction, "name": e.name,
                 "feed_groups": _groups(e.feeds)} for e in languages]
    return _render("index.html", lang="en", direction="ltr", title=title, root=_root(0),
                   feeds=_discovery([e.feeds[0] for e in languages if e.feeds]),
                   sections=sections)


def gone_page(language: str, direction: str, heading: str, notice: str, title: str,
              home: str) -> bytes:
    """The page a withdrawn answer's URL answers with (410 Gone): a localized notice."""
    return _render("gone.html", lang=language, direction=direction, title=heading,
                   root=_root(2), notice=notice, question=title, home=home)


def moved_page(language: str, title: str, location: str) -> bytes:
    """The body of a 301 from a page its answer moved away from."""
    return _render("moved.html", lang=language, direction="auto", title=title, root=_root(2),
                   location=location)


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
