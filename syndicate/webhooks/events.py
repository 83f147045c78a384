"""Change detection: current renditions against the stored state, as events.

Pure: a :class:`~syndicate.answers.Localization` and the stored renditions in, a
:class:`ChangeSet` out (the changes with their events, and what each language publishes now).
Per (answer, language):

- ``answer.published``: a complete rendition and nothing published before (or withdrawn);
- ``answer.reviewed``: the review date of the language's rendition changed (the main event);
- ``answer.updated``: the content changed with the same review date;
- ``answer.withdrawn``: the answer is withdrawn or its file is gone (a file that fails to parse
  withdraws nothing: the last version stays published);
- ``translation.stale``: the source was re-reviewed but this language is incomplete; its last
  complete rendition stays published, marked stale (:func:`syndicate.answers.mark_stale`).

Review reminders (:data:`REVIEW_EVENTS`, :class:`Reminder`) are not changes: a published
rendition whose ``review_due`` is near (``answer.review_due``, from ``review_notice_days``
before it) or past (``answer.review_overdue``) is announced once per answer, language and
due date (the event id derives from them), only to subscribers that name the type.

Every change bumps the (answer, language) version; an event's id is derived from
(type, answer, language, version, content hash), so a sync re-run after a crash or twice in a
row computes the same ids and the store's unique constraint drops the repeats.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import operator
import secrets
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .._time import rfc3339
from ..answers import Answer, Corpus, LanguageCatalog, Localization, Rendition, mark_stale
from ..publication import entry_id, feed_urls, page_url

EventType = Literal[
    "answer.published",
    "answer.reviewed",
    "answer.updated",
    "answer.withdrawn",
    "translation.stale",
    "answer.review_due",
    "answer.review_overdue",
]
ANSWER_EVENTS: tuple[str, ...] = (
    "answer.published",
    "answer.reviewed",
    "answer.updated",
    "answer.withdrawn",
    "translation.stale",
)
REVIEW_EVENTS: tuple[str, ...] = ("answer.review_due", "answer.review_overdue")
"""Sent only to subscribers whose ``event_types`` name them (no filter does not include them)."""
VERIFY_EVENT = "endpoint.verify"
DISABLED_EVENT = "subscriber.disabled"
MAX_PAYLOAD_BYTES = 20_000

_NAMESPACE = uuid.UUID("6f1c2a34-9a53-4d0c-8f5e-3d7b8e1a2c90")


@dataclasses.dataclass(frozen=True, slots=True)
class StoredRendition:
    """What the store holds for one (answer, language)."""

    rendition: Rendition
    version: int
    content_hash: str
    withdrawn: bool
    source_path: str
    first_published: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One change of a language's published rendition, and the event announcing it."""

    type: EventType
    rendition: Rendition
    """The rendition to store (for ``answer.withdrawn``, the last one published)."""
    version: int
    source_path: str
    previous: StoredRendition | None

    @property
    def answer_id(self) -> str:
        """The answer changed."""
        return self.rendition.answer_id

    @property
    def language(self) -> str:
        """The language changed."""
        return self.rendition.language

    @property
    def withdrawn(self) -> bool:
        """The rendition is no longer published."""
        return self.type == "answer.withdrawn"

    @property
    def event_id(self) -> str:
        """Deterministic event id (the ``webhook-id``)."""
        return event_id(
            self.type, self.answer_id, self.language, self.version, self.rendition.content_hash
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Reminder:
    """A published rendition whose medical review is due soon or overdue."""

    type: EventType
    rendition: Rendition
    version: int

    @property
    def event_id(self) -> str:
        """Once per (type, answer, language, due date)."""
        rendition = self.rendition
        due = rendition.review_due.isoformat() if rendition.review_due else ""
        return event_id(self.type, rendition.answer_id, rendition.language, 0, due)


@dataclasses.dataclass(frozen=True, slots=True)
class ChangeSet:
    """The outcome of a diff: changes to store and announce, renditions to publish."""

    changes: tuple[Change, ...]
    renditions: dict[str, tuple[Rendition, ...]]
    """Per language, what is published now: complete renditions and kept (maybe stale) ones."""
    reminders: tuple[Reminder, ...] = ()
    """Review reminders due now (the store drops the ones already sent)."""


def reminders(renditions: Mapping[str, tuple[Rendition, ...]],
              stored: Mapping[tuple[str, str], StoredRendition], today: dt.date,
              notice_days: int) -> tuple[Reminder, ...]:
    """``answer.review_overdue`` for every published rendition whose ``review_due`` has
    passed, ``answer.review_due`` for those due within ``notice_days``."""
    found = []
    for language in sorted(renditions):
        for rendition in renditions[language]:
            due = rendition.review_due
            if due is None or today < due - dt.timedelta(days=notice_days):
                continue
            kind: EventType = "answer.review_overdue" if today > due else "answer.review_due"
            before = stored.get((rendition.answer_id, language))
            found.append(Reminder(kind, rendition, before.version + 1 if before else 1))
    return tuple(found)


def _same_content(rendition: Rendition, live: StoredRendition) -> bool:
    """Whether ``rendition`` shows what the stored one shows: the same content hash.

    Equal fields but ``updated`` give equal hashes (the hash encodes the fields), so the
    common case, an unchanged rendition, is told by comparing them, without encoding and
    hashing the whole rendition; only renditions that differ are hashed."""
    if _content(rendition) == _content(live.rendition):
        return True
    return rendition.content_hash == live.content_hash


_content = operator.attrgetter(*(field.name for field in dataclasses.fields(Rendition)
                                 if field.name != "updated"))
"""Every field of a rendition but ``updated``, as a tuple."""


def _dated(rendition: Rendition, live: StoredRendition, now: dt.datetime | None,
           same: bool) -> Rendition:
    """``rendition`` with its ``updated`` taken from the store (see :func:`diff`);
    ``same``: whether it shows the same content (:func:`_same_content`)."""
    before = live.rendition.updated
    if same:
        return dataclasses.replace(rendition, updated=before)
    if rendition.updated > before:
        return rendition
    return dataclasses.replace(rendition, updated=max(now, before) if now else before)


def event_id(type_: str, answer_id: str, language: str, version: int, content_hash: str) -> str:
    """``msg_`` + a UUID derived from the event's identity."""
    name = f"{type_}/{answer_id}/{language}/{version}/{content_hash}"
    return "msg_" + uuid.uuid5(_NAMESPACE, name).hex


def random_event_id() -> str:
    """``msg_`` + 32 random hex digits: the id of an event that is not an answer's change."""
    return "msg_" + secrets.token_hex(16)


def diff(
    localization: Localization,
    stored: Mapping[tuple[str, str], StoredRendition],
    now: dt.datetime | None = None,
    review_notice_days: int = 30,
) -> ChangeSet:
    """Compare the current renditions with the stored state (see the module doc).

    Once the store knows a rendition, its ``updated`` comes from the store: unchanged
    content keeps the stored time, changed content gets the later of its own date and
    ``now`` (when the change is recorded), so a translator saving a catalog does not move
    every entry of the language, and a change is never dated before the version it replaces.
    """
    corpus = localization.corpus
    changes: list[Change] = []
    effective: dict[str, tuple[Rendition, ...]] = {}
    by_language: dict[str, list[tuple[str, StoredRendition]]] = {}
    for (answer_id, stored_language), before in sorted(stored.items()):
        by_language.setdefault(stored_language, []).append((answer_id, before))
    for language in localization.languages:
        current = {r.answer_id: r for r in localization.renditions.get(language, ())}
        catalog = localization.catalogs.get(language)
        found = [_compare(answer, current.get(answer.id), stored.get((answer.id, language)),
                          catalog, now) for answer in corpus.published]
        found += _left(corpus, by_language.get(language, ()))
        changes += [change for change, _ in found if change is not None]
        effective[language] = tuple(shown for _, shown in found if shown is not None)
    due = reminders(effective, stored, now.date(), review_notice_days) if now else ()
    return ChangeSet(tuple(changes), effective, due)


def _compare(
    answer: Answer, rendition: Rendition | None, before: StoredRendition | None,
    catalog: LanguageCatalog | None, now: dt.datetime | None,
) -> tuple[Change | None, Rendition | None]:
    """One published answer in one language: its change, if any, and what the language
    shows now (``None``: the language never had a complete rendition of it)."""
    live = before if before is not None and not before.withdrawn else None
    version = (before.version if before is not None else 0) + 1
    if rendition is not None:
        same = False
        if live is not None:
            same = _same_content(rendition, live)
            rendition = _dated(rendition, live, now, same)
        kind: EventType | None = None
        if live is None:
            kind = "answer.published"
        elif rendition.reviewed != live.rendition.reviewed:
            kind = "answer.reviewed"
        elif not same:
            kind = "answer.updated"
        change = Change(kind, rendition, version, answer.path, before) if kind else None
        return change, rendition
    if live is None:
        return None, None
    previous = live.rendition
    if answer.reviewed <= previous.source_reviewed:
        return None, previous
    stale = mark_stale(previous, answer, catalog)
    if now is not None:
        stale = dataclasses.replace(stale, updated=max(now, previous.updated))
    return Change("translation.stale", stale, version, answer.path, before), stale


def _left(
    corpus: Corpus, stored: Iterable[tuple[str, StoredRendition]]
) -> list[tuple[Change | None, Rendition | None]]:
    """Stored renditions of one language (by answer id, in order) whose answers are no
    longer published: withdrawn, unless the answer's file only failed to parse (then what
    was published stays)."""
    published = {answer.id for answer in corpus.published}
    known = {answer.id for answer in corpus.answers}
    broken_paths = {problem.path for problem in corpus.errors}
    found: list[tuple[Change | None, Rendition | None]] = []
    for answer_id, before in stored:
        if before.withdrawn or answer_id in published:
            continue
        if answer_id not in known and before.source_path in broken_paths:
            found.append((None, before.rendition))
            continue
        found.append((Change("answer.withdrawn", before.rendition, before.version + 1,
                             before.source_path, before), None))
    return found


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def encode(payload: Mapping[str, Any]) -> str:
    """The exact JSON text sent: compact, keys sorted, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def payloads(change: Change, base_url: str, created: dt.datetime) -> tuple[str, str]:
    """The thin and the full webhook body of a change (Standard Webhooks envelope).

    Besides the answer's canonical ``url`` (the publisher's page), ``page_url`` is its page in
    this language in the tree, ``entry_id`` the id its entry has in every feed, and
    ``previous_page_url`` the page it had before when it moved (condition or slug changed):
    that page now answers 301. ``reviewed`` and ``source_reviewed`` are both review dates of
    a stale translation (what it shows, and what the source has).

    The full body adds the rendition itself; if that would exceed :data:`MAX_PAYLOAD_BYTES`
    it carries ``rendition_omitted`` instead and the receiver fetches the feed.
    """
    previous = change.previous.rendition if change.previous is not None else None
    data = _data(change.rendition, previous, change.version, change.withdrawn, base_url)
    return _envelopes(change.type, change.rendition, data, created)


def reminder_payloads(reminder: Reminder, base_url: str, created: dt.datetime
                      ) -> tuple[str, str]:
    """The thin and the full body of a review reminder (``due_date`` added)."""
    rendition = reminder.rendition
    data = _data(rendition, None, reminder.version, False, base_url)
    data["due_date"] = _day(rendition.review_due)
    return _envelopes(reminder.type, rendition, data, created)


def _envelopes(type_: str, rendition: Rendition, data: dict[str, Any], created: dt.datetime
               ) -> tuple[str, str]:
    envelope = {"type": type_, "timestamp": rfc3339(created, "seconds"), "data": data}
    thin = encode(envelope)
    full_data = dict(data, rendition=rendition.to_dict())
    full = encode(dict(envelope, data=full_data))
    if len(full.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        full = encode(dict(envelope, data=dict(data, rendition_omitted="too large")))
    return thin, full


def _data(rendition: Rendition, previous: Rendition | None, version: int, withdrawn: bool,
          base_url: str) -> dict[str, Any]:
    page = page_url(base_url, rendition.language, rendition.condition_slug, rendition.slug)
    previous_page = None
    if previous is not None and not withdrawn:
        before = page_url(base_url, previous.language, previous.condition_slug, previous.slug)
        previous_page = before if before != page else None
    data: dict[str, Any] = {
        "answer_id": rendition.answer_id,
        "language": rendition.language,
        "condition": rendition.condition_slug,
        "condition_name": rendition.condition,
        "question": rendition.title,
        "reviewed": _day(rendition.reviewed),
        "previous_reviewed": _day(previous.reviewed) if previous is not None else None,
        "review_due": _day(rendition.review_due),
        "source_reviewed": _day(rendition.source_reviewed),
        "reviewed_by": rendition.reviewed_by,
        "stale": rendition.stale,
        **({"translation_reviewed": _day(rendition.translation_reviewed),
            "translation_reviewed_by": rendition.translation_reviewed_by}
           if rendition.translation_reviewed is not None else {}),
        "url": rendition.url,
        "page_url": page,
        "previous_page_url": previous_page,
        "entry_id": entry_id(rendition.answer_id, rendition.language),
        "feeds": feed_urls(base_url, rendition.language),
        "content_hash": rendition.content_hash,
        "version": version,
    }
    return data
