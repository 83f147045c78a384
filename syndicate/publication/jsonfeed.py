"""JSON Feed 1.1 documents, written from the specification (feedgen has no JSON Feed).

Paging uses ``next_url`` (the next older document); Syndicate's own fields (review dates,
staleness, translations, the RFC 5005 state) live under ``_syndicate`` as the specification
allows. Pure: documents in, bytes out.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from .._time import rfc3339
from .feeds import (
    CONDITION_SCHEME,
    Document,
    Item,
    check_document,
    content_html,
    summary_text,
)

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def _json_item(item: Item, publisher: str) -> dict[str, Any]:
    rendition = item.rendition
    review: dict[str, Any] = {
        "last_reviewed": rendition.reviewed.isoformat(),
        "next_review_due": rendition.review_due.isoformat() if rendition.review_due else None,
        "reviewed_by": rendition.reviewed_by,
        "stale": rendition.stale,
        "overdue": item.overdue,
    }
    if rendition.stale:
        review["source_reviewed"] = rendition.source_reviewed.isoformat()
    if rendition.translation_reviewed is not None:
        review["translation_reviewed"] = rendition.translation_reviewed.isoformat()
        review["translation_reviewed_by"] = rendition.translation_reviewed_by
    review["condition"] = {"term": rendition.condition_slug, "scheme": CONDITION_SCHEME,
                           "label": rendition.condition}
    review["direction"] = rendition.direction
    review["translations"] = [
        {"language": t.language, "url": t.url, "title": t.title} for t in item.translations
    ]
    return {
        "id": item.id,
        "url": item.link,
        "external_url": rendition.url,
        "title": rendition.title,
        "summary": summary_text(rendition),
        "content_html": content_html(rendition),
        "date_published": rfc3339(item.published),
        "date_modified": rfc3339(rendition.updated),
        "authors": [{"name": publisher}],
        "language": rendition.language,
        "tags": [rendition.condition],
        "_syndicate": review,
    }


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
        "updated": rfc3339(doc.updated),
        "complete": doc.complete,
        "current": doc.current + ".json" if doc.current is not None else None,
    }
    if doc.deleted:  # RFC 6721's tombstones, in the extension
        data["_syndicate"]["deleted"] = [
            {"id": t.ref, "deleted_at": rfc3339(t.when), "language": t.language,
             "comment": t.comment, "url": t.link}
            for t in doc.deleted
        ]
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
