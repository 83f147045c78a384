"""Answers that leave a language: withdrawn ones (410 pages, feed tombstones) and moved ones.

An answer a language published and no longer does is *withdrawn*: its page answers 410 Gone
with a localized notice, and for ``tombstone_days`` its feeds carry an RFC 6721 tombstone
(``at:deleted-entry``; JSON Feed and RSS the equivalent, see docs/feeds.md), so feed readers
learn the advice was pulled instead of seeing an entry silently vanish. An answer whose page
moved (its condition folder or slug changed) leaves its old page answering 301 to the new one.
Both are remembered in the build state, so every later build keeps them.

Pure: the previous state and this build's entries in, what to keep and serve out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from .feeds import Tombstone, entry_id
from .state import LanguageState, PublishedEntry, WithdrawnEntry


@dataclasses.dataclass(frozen=True, slots=True)
class Departures:
    """What one language keeps of the answers that left it or moved."""

    withdrawn: dict[str, WithdrawnEntry]
    """Every withdrawn answer (by id), including those withdrawn by earlier builds."""
    moved: dict[str, str]
    """Old page -> answer id, for answers still published under a new page."""
    gone: dict[str, str]
    """Old page -> title, for every page that answers 410 (withdrawn answers' pages, and
    pages of moved answers that were later withdrawn)."""


def departures(previous: LanguageState | None, entries: Mapping[str, PublishedEntry],
               now: dt.datetime) -> Departures:
    """Compare the language's previous state with this build's entries (by answer id)."""
    if previous is None:
        return Departures({}, {}, {})
    withdrawn = {answer_id: gone for answer_id, gone in previous.withdrawn.items()
                 if answer_id not in entries}
    moved = dict(previous.moved)
    for answer_id, before in previous.entries.items():
        now_entry = entries.get(answer_id)
        if now_entry is None:
            withdrawn[answer_id] = WithdrawnEntry(now, before.page, before.title,
                                                  before.published)
        elif now_entry.page != before.page:
            moved[before.page] = answer_id
    current = {entry.page for entry in entries.values()}
    moved = {page: answer_id for page, answer_id in moved.items() if page not in current}
    gone = {entry.page: entry.title for entry in withdrawn.values() if entry.page not in current}
    for page, answer_id in list(moved.items()):
        if answer_id not in entries:
            gone[page] = withdrawn[answer_id].title if answer_id in withdrawn else ""
            del moved[page]
    return Departures(withdrawn, moved, gone)


def tombstones(withdrawn: Mapping[str, WithdrawnEntry], language: str, comment: str,
               base: str, since: dt.datetime, condition_slug: str | None = None
               ) -> tuple[Tombstone, ...]:
    """The tombstones of answers withdrawn since ``since`` (of one condition, if given),
    newest first."""
    found = [
        Tombstone(entry_id(answer_id, language), entry.when, language, comment,
                  f"{base}/{entry.page}")
        for answer_id, entry in withdrawn.items()
        if entry.when >= since and condition_slug in (None, entry.condition_slug)
    ]
    return tuple(sorted(found, key=lambda t: (t.when, t.ref), reverse=True))
