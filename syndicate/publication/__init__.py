"""Renditions in, the publication tree out: the second stage.

Renditions become feed entries (:mod:`.feeds`), spread over current documents and RFC 5005
archives (:mod:`.paging`) and written as Atom, RSS (:mod:`.atom`) and JSON Feed
(:mod:`.jsonfeed`), beside HTML pages and OPML (:mod:`.pages`). A build is planned
(:mod:`.plan`, keeping :mod:`.state` for the next one) and written atomically with its
manifest (:mod:`.tree`, :mod:`.manifest`); where each file lives is :mod:`.layout`.
"""

from __future__ import annotations

from .feeds import Document, Item, Translation, entry_id
from .formats import render
from .layout import (
    EXTENSIONS,
    FORMATS,
    MANIFEST,
    MEDIA_TYPES,
    STATE,
    STORE,
    Format,
    feed_media_type,
    feed_urls,
    hub_url,
    page_url,
    site_url,
)
from .manifest import FileRecord, read_manifest
from .plan import LanguageReport, feed_documents
from .tree import BuildResult, publish

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "MANIFEST",
    "MEDIA_TYPES",
    "STATE",
    "STORE",
    "BuildResult",
    "Document",
    "FileRecord",
    "Format",
    "Item",
    "LanguageReport",
    "Translation",
    "entry_id",
    "feed_documents",
    "feed_media_type",
    "feed_urls",
    "hub_url",
    "page_url",
    "publish",
    "read_manifest",
    "render",
    "site_url",
]
