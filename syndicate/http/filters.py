"""Subscription filters: checked against what the deployment publishes.

A filter naming a language or condition that is not published would make a subscription that
silently never receives anything: such values are refused with a 422 that names the value and
lists the allowed ones. Event types are checked against the events the service sends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import store
from ..config import Settings
from ..errors import ApiError
from ..tags import SAFE_NAME
from ..webhooks import ANSWER_EVENTS, REVIEW_EVENTS
from . import models

EVENT_TYPES = frozenset(ANSWER_EVENTS) | frozenset(REVIEW_EVENTS)


def _event_types(patterns: Sequence[str]) -> tuple[str, ...]:
    for pattern in patterns:
        if "*" not in pattern and pattern not in EVENT_TYPES:
            raise ApiError(422, "invalid_field",
                           f"event_types: {pattern!r} is not an event type; allowed: "
                           f"{', '.join(sorted(EVENT_TYPES))} or a pattern such as answer.*")
    return tuple(patterns)


def _check_values(field: str, given: Sequence[str], allowed: Collection[str], what: str
                  ) -> tuple[str, ...]:
    """422 naming the first value not in ``allowed``, and listing those that are."""
    for value in given:
        if value not in allowed:
            raise ApiError(422, "invalid_field",
                           f"{field}: {value!r} is not {what}; allowed: "
                           f"{', '.join(sorted(allowed)) or '(none yet)'}")
    return tuple(given)


def checked(body: models.Filters, known: Known) -> dict[str, Any]:
    """The filters a subscription request gives (checked against what is published), by
    the names :func:`~syndicate.webhooks.subscribers.add` and ``update_filters`` take."""
    given = body.model_fields_set
    found: dict[str, Any] = {}
    if "languages" in given:
        found["languages"] = _check_values("languages", body.languages, known.languages,
                                           "a published language")
    if "conditions" in given:
        found["conditions"] = _check_values("conditions", body.conditions, known.conditions,
                                            "a condition")
    if "event_types" in given:
        found["event_types"] = _event_types(body.event_types)
    if "full" in given:
        found["full"] = body.full
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Known:
    """The languages and conditions a filter may name."""

    languages: frozenset[str]
    conditions: frozenset[str]


def known(settings: Settings, engine: Engine) -> Known:
    """What is published (the store's renditions), what is configured (``languages``, the
    source language) and the condition folders of the content."""
    r = store.renditions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.language, r.condition_slug).distinct()).all()
    languages = {row.language for row in rows} | set(settings.languages)
    languages.add(settings.source_language)
    conditions = {row.condition_slug for row in rows}
    if settings.content_dir.is_dir():
        conditions |= {path.name for path in settings.content_dir.iterdir()
                       if path.is_dir() and SAFE_NAME.fullmatch(path.name)}
    return Known(frozenset(languages), frozenset(conditions))
