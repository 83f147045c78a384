"""Change detection: current renditions against the stored state, as events.

Pure: a :class:`~syndicate.pipeline.Localization` and the stored renditions in, a
:class:`Plan` out (the changes with their events, and what each language publishes now).
Per (answer, language):

- ``answer.published``: a complete rendition and nothing published before (or withdrawn);
- ``answer.reviewed``: the review date of the language's rendition changed (the main event);
- ``answer.updated``: the content changed with the same review date;
- ``answer.withdrawn``: the answer is withdrawn or its file is gone (a file that fails to parse
  withdraws nothing: the last version stays published);
- ``translation.stale``: the source was re-reviewed but this language is incomplete; its last
  complete rendition stays published, marked stale (:func:`syndicate.localize.mark_stale`).

Every change bumps the (answer, language) version; an event's id is derived from
(type, answer, language, version, content hash), so a sync re-run after a crash or twice in a
row computes the same ids and the store's unique constraint drops the repeats.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from .localize import Rendition, mark_stale
from .pipeline import Localization

EventType = Literal[
    "answer.published",
    "answer.reviewed",
    "answer.updated",
    "answer.withdrawn",
    "translation.stale",
]
ANSWER_EVENTS: tuple[str, ...] = (
    "answer.published",
    "answer.reviewed",
    "answer.updated",
    "answer.withdrawn",
    "translation.stale",
)
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
class Plan:
    """The outcome of a diff: changes to store and announce, renditions to publish."""

    changes: tuple[Change, ...]
    renditions: dict[str, tuple[Rendition, ...]]
    """Per language, what is published now: complete renditions and kept (maybe stale) ones."""


def _dated(rendition: Rendition, live: StoredRendition, now: dt.datetime | None) -> Rendition:
    """``rendition`` with its ``updated`` taken from the store (see :func:`diff`)."""
    before = live.rendition.updated
    if rendition.content_hash == live.content_hash:
        return dataclasses.replace(rendition, updated=before)
    if rendition.updated > before:
        return rendition
    return dataclasses.replace(rendition, updated=max(now, before) if now else before)


def event_id(type_: str, answer_id: str, language: str, version: int, content_hash: str) -> str:
    """``msg_`` + a UUID derived from the event's identity."""
    name = f"{type_}/{answer_id}/{language}/{version}/{content_hash}"
    return "msg_" + uuid.uuid5(_NAMESPACE, name).hex


def diff(
    localization: Localization,
    stored: Mapping[tuple[str, str], StoredRendition],
    now: dt.datetime | None = None,
) -> Plan:
    """Compare the current renditions with the stored state (see the module doc).

    Once the store knows a rendition, its ``updated`` comes from the store: unchanged
    content keeps the stored time, changed content gets the later of its own date and
    ``now`` (when the change is recorded), so a translator saving a catalog does not move
    every entry of the language, and a change is never dated before the version it replaces.
    """
    corpus = localization.corpus
    published = {answer.id: answer for answer in corpus.published}
    known = {answer.id for answer in corpus.answers}
    broken_paths = {problem.path for problem in corpus.errors}
    changes: list[Change] = []
    effective: dict[str, list[Rendition]] = {}
    for language in localization.languages:
        current = {r.answer_id: r for r in localization.renditions.get(language, ())}
        kept: list[Rendition] = []
        for answer in corpus.published:
            before = stored.get((answer.id, language))
            live = before if before is not None and not before.withdrawn else None
            version = (before.version if before is not None else 0) + 1
            rendition = current.get(answer.id)
            if rendition is not None:
                if live is not None:
                    rendition = _dated(rendition, live, now)
                kept.append(rendition)
                kind: EventType | None = None
                if live is None:
                    kind = "answer.published"
                elif rendition.reviewed != live.rendition.reviewed:
                    kind = "answer.reviewed"
                elif rendition.content_hash != live.content_hash:
                    kind = "answer.updated"
                if kind is not None:
                    changes.append(Change(kind, rendition, version, answer.path, before))
                continue
            if live is None:
                continue  # never complete in this language: absent
            previous = live.rendition
            if answer.reviewed > previous.source_reviewed:
                catalog = localization.catalogs.get(language)
                stale = mark_stale(previous, answer, catalog)
                if now is not None:
                    stale = dataclasses.replace(stale, updated=max(now, previous.updated))
                changes.append(Change("translation.stale", stale, version, answer.path, before))
                kept.append(stale)
            else:
                kept.append(previous)
        for (answer_id, stored_language), before in sorted(stored.items()):
            if stored_language != language or before.withdrawn or answer_id in published:
                continue
            if answer_id not in known and before.source_path in broken_paths:
                kept.append(before.rendition)  # unreadable file: keep what was published
                continue
            changes.append(
                Change(
                    "answer.withdrawn", before.rendition, before.version + 1,
                    before.source_path, before,
                )
            )
        effective[language] = kept
    return Plan(tuple(changes), {lang: tuple(items) for lang, items in effective.items()})


def feed_urls(base_url: str, language: str) -> dict[str, str]:
    """The feeds a language is published in (the layout ``syndicate build`` writes)."""
    base = base_url.rstrip("/")
    return {
        "atom": f"{base}/{language}/feed.atom",
        "rss": f"{base}/{language}/feed.rss",
        "json": f"{base}/{language}/feed.json",
    }


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def timestamp(moment: dt.datetime) -> str:
    """RFC 3339 UTC timestamp with a ``Z``, to the second."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def encode(payload: Mapping[str, Any]) -> str:
    """The exact JSON text sent: compact, keys sorted, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def payloads(change: Change, base_url: str, created: dt.datetime) -> tuple[str, str]:
    """The thin and the full webhook body of a change (Standard Webhooks envelope).

    The full body adds the rendition itself; if that would exceed :data:`MAX_PAYLOAD_BYTES`
    it carries ``rendition_omitted`` instead and the receiver fetches the feed.
    """
    rendition = change.rendition
    previous = change.previous.rendition if change.previous is not None else None
    data: dict[str, Any] = {
        "answer_id": rendition.answer_id,
        "language": rendition.language,
        "condition": rendition.condition_slug,
        "question": rendition.title,
        "reviewed": _day(rendition.reviewed),
        "previous_reviewed": _day(previous.reviewed) if previous is not None else None,
        "review_due": _day(rendition.review_due),
        "source_reviewed": _day(rendition.source_reviewed),
        "stale": rendition.stale,
        "url": rendition.url,
        "feeds": feed_urls(base_url, rendition.language),
        "content_hash": rendition.content_hash,
        "version": change.version,
    }
    envelope = {"type": change.type, "timestamp": timestamp(created), "data": data}
    thin = encode(envelope)
    full_data = dict(data, rendition=rendition.to_dict())
    full = encode(dict(envelope, data=full_data))
    if len(full.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        full = encode(dict(envelope, data=dict(data, rendition_omitted="too large")))
    return thin, full
