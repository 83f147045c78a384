"""RFC 5005 paging: a feed's entries over a current document and archive pages.

Archive pages, once made, keep their members (an entry that leaves the feed leaves its page;
nothing moves between pages), so a reader who has a page never needs to fetch it again.
Pure: entries in, pages out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from .feeds import Item, newest_first


@dataclasses.dataclass(frozen=True, slots=True)
class Paging:
    """How a feed's entries are spread over the current document and its archives."""

    current: tuple[Item, ...]
    """Newest first: the newest ``size`` entries, plus any entry not in an archive."""
    archives: tuple[tuple[Item, ...], ...]
    """Archive pages, oldest page first; each page's entries newest first."""
    pages: tuple[tuple[str, ...], ...]
    """Entry ids of every archive page, to be kept for the next build."""


def _archive_order(item: Item) -> tuple[dt.datetime, str]:
    return (item.published, item.id)


def paginate(
    items: Sequence[Item], size: int, frozen: Sequence[Sequence[str]] = ()
) -> Paging:
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
    return Paging(current, archives, tuple(tuple(page) for page in pages))
