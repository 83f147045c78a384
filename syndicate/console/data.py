"""Every piece of data the console shows or changes, through one small function each.

The pages never query the store or read files themselves: they call these adapters, so that
when a layer below grows a richer view (per-language refusals stored by the sync, the
translators' status module) only this module is re-pointed. Each adapter says what it reads.

Reading ``content/`` and ``locales/`` is slow next to a page (a thousand answer files, a
catalog per language), so those reads go through :class:`~syndicate.console.cache.FileCache`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..answers import (
    Problem,
    babel_locale,
    catalog_path,
    load_corpus,
    target_languages,
)
from ..answers.status import Scope
from ..config import Settings
from ..errors import CatalogError, InputError
from ..metrics import content_counts, last_sync_summary
from ..publication import feed_urls as publication_feed_urls
from ..service import JOBS, JobInfo, Run, history, list_jobs, pause, resume
from ..store import attempts, deliveries, events, renditions, subscribers
from ..webhooks import ANSWER_EVENTS, DISABLED_EVENT, VERIFY_EVENT, outbox, requeue
from ..webhooks import subscribers as subs
from ..webhooks.events import encode
from .cache import CACHE, Snapshot
from .todo import LanguageProgress, TodoItem, answer_scopes, language_state

TEST_EVENT = "endpoint.test"
"""The event a partner sends to its own endpoint from the console."""
PAGE_SIZE = 50


# -- what exists -------------------------------------------------------------------------------


def languages(engine: Engine) -> list[str]:
    """Languages with published renditions (the subscription form offers them)."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(renditions.c.language).distinct()
                                 .order_by(renditions.c.language)).scalars())


def conditions(engine: Engine) -> list[str]:
    """Conditions with published renditions (the subscription form offers them)."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(renditions.c.condition_slug).distinct()
                                 .order_by(renditions.c.condition_slug)).scalars())


def event_types() -> tuple[str, ...]:
    """The event types a subscription may filter on."""
    return ANSWER_EVENTS


def feed_urls(settings: Settings, language: str) -> dict[str, str]:
    """A language's main feed in each format."""
    return publication_feed_urls(settings.base_url, language)


# -- partners: subscriptions -------------------------------------------------------------------


def partner_subscriptions(engine: Engine, partner: str) -> list[subs.Subscriber]:
    """The partner's webhook subscriptions."""
    return subs.list_owned(engine, partner)


def owned_subscription(engine: Engine, partner: str, subscriber_id: str) -> subs.Subscriber | None:
    """The partner's subscription ``subscriber_id``; ``None`` for anyone else's or none."""
    found = subs.get(engine, subscriber_id)
    if found is None or found.owner != partner or found.kind != "webhook":
        return None
    return found


def create_subscription(engine: Engine, settings: Settings, partner: str, url: str, *,
                        now: dt.datetime, **filters: Any) -> subs.Subscriber:
    """Register a partner's endpoint (pending until it echoes its challenge)."""
    return subs.add(engine, url, now=now, allow_networks=settings.webhook_allow_networks,
                    owner=partner, **filters)


def update_subscription(engine: Engine, subscriber_id: str, *, now: dt.datetime,
                        **filters: Any) -> subs.Subscriber:
    """Change a subscription's filters."""
    return subs.update_filters(engine, subscriber_id, now=now, **filters)


def set_paused(engine: Engine, subscriber_id: str, paused: bool, *,
               now: dt.datetime, by: str) -> subs.Subscriber:
    """Pause or resume a subscription."""
    if paused:
        return subs.set_status(engine, subscriber_id, "paused", now=now, reason=f"paused by {by}")
    return subs.set_status(engine, subscriber_id, "active", now=now, reason=None)


def rotate_secret(engine: Engine, subscriber_id: str, *, now: dt.datetime) -> str:
    """A new signing secret (the old one signs for 24 hours more)."""
    return subs.rotate_secret(engine, subscriber_id, now=now)


def delete_subscription(engine: Engine, subscriber_id: str) -> None:
    """Remove a subscription with its deliveries."""
    subs.remove(engine, subscriber_id)


def send_test_event(engine: Engine, subscriber_id: str, *, now: dt.datetime) -> str:
    """Queue an ``endpoint.test`` event for one endpoint; the event id."""
    body = encode({"type": TEST_EVENT, "timestamp": rfc3339(now, "seconds"),
                   "data": {"subscriber_id": subscriber_id,
                            "message": "a test event sent from the console"}})
    with engine.begin() as conn:
        event_id = outbox.add_event(conn, TEST_EVENT, body, now, subscriber_id=subscriber_id)
        outbox.add_deliveries(conn, event_id, TEST_EVENT, [subscriber_id], now)
    return event_id


# -- partners: deliveries ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptRow:
    """One delivery attempt with its delivery and event."""

    attempt_id: int
    delivery_id: int
    attempted_at: dt.datetime
    event_type: str
    answer_id: str | None
    language: str | None
    status_code: int | None
    duration_ms: float
    error: str | None
    response: str | None
    """The first bytes of the answer's body."""
    state: str
    next_retry: dt.datetime | None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


ATTEMPT_FILTERS = ("all", "ok", "failed")


def attempts_page(engine: Engine, subscriber_id: str, *, status: str = "all",
                  before: int | None = None, limit: int = PAGE_SIZE) -> list[AttemptRow]:
    """A subscription's attempts, newest first, ``limit`` at a time (``before``: an attempt
    id, the cursor of the next page); ``status`` ``ok`` (2xx) or ``failed`` (anything else)."""
    a, d, e = attempts.c, deliveries.c, events.c
    # The page's attempts first (the subscription's own, sorted: "+ 0" keeps the planner from
    # walking every attempt newest first by the primary key and filtering 99 % away), then
    # their deliveries and events, for those 50 only.
    page = (sa.select(a.id.label("attempt_id"))
            .select_from(attempts.join(deliveries, d.id == a.delivery_id))
            .where(d.subscriber_id == subscriber_id)
            .order_by((a.id + 0).desc()).limit(limit))
    if before is not None:
        page = page.where(a.id < before)
    ok = sa.and_(a.status_code >= 200, a.status_code < 300)
    if status == "ok":
        page = page.where(ok)
    elif status == "failed":
        page = page.where(sa.or_(a.status_code.is_(None), sa.not_(ok)))
    chosen = page.subquery()
    query = (
        sa.select(a.id, a.delivery_id, a.attempted_at, d.event_type, e.answer_id, e.language,
                  a.status_code, a.duration_ms, a.error, a.response, d.state, d.due_at)
        .select_from(attempts.join(chosen, chosen.c.attempt_id == a.id)
                     .join(deliveries, d.id == a.delivery_id)
                     .join(events, e.id == d.event_id))
        .order_by(a.id.desc())
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [AttemptRow(r.id, r.delivery_id, r.attempted_at, r.event_type, r.answer_id,
                       r.language, r.status_code, r.duration_ms, r.error, r.response, r.state,
                       r.due_at if r.state == "pending" else None) for r in rows]


def waiting_deliveries(engine: Engine, subscriber_id: str, limit: int = 20) -> list[Any]:
    """A subscription's deliveries not yet attempted (due, or waiting for it to resume)."""
    d = deliveries.c
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(d.id, d.event_type, d.due_at, d.state).where(d.subscriber_id == subscriber_id)
            .where(d.state == "pending").where(d.attempts == 0)
            .order_by(d.id.desc()).limit(limit)).all())


def retry_delivery(engine: Engine, subscriber_id: str, delivery_id: int, *,
                   now: dt.datetime) -> int:
    """Send a dead delivery of this subscription again; how many (0 if not its own)."""
    return requeue(engine, now=now, ids=[delivery_id], subscriber_id=subscriber_id)


def replay_since(engine: Engine, subscriber_id: str, since: dt.datetime, *,
                 now: dt.datetime) -> int:
    """Send again every delivery of this subscription created since ``since``."""
    return requeue(engine, now=now, since=since, subscriber_id=subscriber_id,
                   states=("delivered", "dead"))


def example_payloads(engine: Engine) -> dict[str, str | None]:
    """The latest stored payload of each event type a partner may receive (``None``: none
    sent yet); the console shows them as examples."""
    found: dict[str, str | None] = {}
    with engine.connect() as conn:
        for event_type in (*ANSWER_EVENTS, VERIFY_EVENT, DISABLED_EVENT, TEST_EVENT):
            payload = conn.execute(
                sa.select(events.c.payload).where(events.c.type == event_type)
                .order_by(events.c.seq.desc()).limit(1)).scalar()
            found[event_type] = (json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
                                 if payload else None)
    return found


# -- operators ---------------------------------------------------------------------------------


def jobs(engine: Engine, settings: Settings) -> list[JobInfo]:
    """Every scheduled job: interval, next run, paused, last outcome."""
    return list_jobs(engine, settings)


def job_names() -> tuple[str, ...]:
    """The scheduled jobs' names."""
    return tuple(JOBS)


def last_runs(engine: Engine, names: Sequence[str]) -> dict[str, Run]:
    """Each job's latest run (a job that never ran has none)."""
    found = {name: history(engine, name, 1) for name in names}
    return {name: runs[0] for name, runs in found.items() if runs}


def job_runs_of(engine: Engine, job: str, limit: int = PAGE_SIZE) -> list[Run]:
    """A job's recent runs, newest first."""
    return history(engine, job, limit)


@dataclasses.dataclass(frozen=True, slots=True)
class SubscriberHealth:
    """One webhook subscriber as operators watch it."""

    subscriber: subs.Subscriber
    pending: int
    dead: int


def subscriber_health(engine: Engine) -> list[SubscriberHealth]:
    """Every webhook subscriber with its pending and dead deliveries, the troubled first."""
    d = deliveries.c
    with engine.connect() as conn:
        counted = conn.execute(
            sa.select(d.subscriber_id, d.state, sa.func.count())
            .where(d.state.in_(["pending", "dead"])).group_by(d.subscriber_id, d.state)).all()
    tally: dict[tuple[str, str], int] = {(row[0], row[1]): int(row[2]) for row in counted}
    rows = [SubscriberHealth(s, tally.get((s.id, "pending"), 0), tally.get((s.id, "dead"), 0))
            for s in subs.list_all(engine) if s.kind == "webhook"]
    return sorted(rows, key=lambda h: (h.subscriber.status == "active"
                                       and h.subscriber.failing_since is None, -h.dead,
                                       h.subscriber.id))


def dead_letters(engine: Engine, *, before: int | None = None,
                 limit: int = PAGE_SIZE) -> list[Any]:
    """Dead deliveries, newest first, with their last status and error."""
    d = deliveries.c
    query = (sa.select(d.id, d.event_type, d.subscriber_id, d.attempts, d.created_at,
                       d.last_status, d.last_error)
             .where(d.state == "dead").order_by(d.id.desc()).limit(limit))
    if before is not None:
        query = query.where(d.id < before)
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def retry_dead(engine: Engine, delivery_id: int, *, now: dt.datetime) -> int:
    """Send one dead delivery again."""
    return requeue(engine, now=now, ids=[delivery_id])


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageFigures:
    """What one language publishes."""

    language: str
    published: int
    stale: int
    overdue: int
    not_published: int
    """Source answers with no rendition in the language: refused or never translated."""
    refused: int = 0
    """Answers the last sync refused to publish as current in the language (a catalog or
    check problem; the last good version, if any, stays published)."""


def language_figures(engine: Engine, settings: Settings, *,
                     now: dt.datetime) -> list[LanguageFigures]:
    """Per language: published, stale, overdue (as ``syndicate status`` counts them), not
    published (source answers without a rendition, counted by the database from an index)
    and refused by the last sync (as ``syndicate status`` reports them)."""
    r = renditions.c
    overdue = sa.case((r.review_due < now.date(), 1), else_=0)
    with engine.connect() as conn:
        counted = conn.execute(
            sa.select(r.language, sa.func.count(), sa.func.sum(sa.case((r.stale, 1), else_=0)),
                      sa.func.sum(overdue))
            .where(r.withdrawn.is_(False)).group_by(r.language)).all()
        refused = content_counts(last_sync_summary(conn))[2]
    rows = {row[0]: (int(row[1]), int(row[2] or 0), int(row[3] or 0)) for row in counted}
    source = rows.get(settings.source_language, (0, 0, 0))[0]
    for language in target_languages(settings):  # a language refused whole has no row
        rows.setdefault(language, (0, 0, 0))
    return [LanguageFigures(lang, published, stale, late, max(0, source - published),
                            refused.get(lang, 0))
            for lang, (published, stale, late) in sorted(rows.items())]


def content_problems(settings: Settings) -> list[Problem]:
    """Every problem of the answer files, with file and line."""
    return list(load_corpus(settings.content_dir).problems)


def content_snapshot(settings: Settings) -> Snapshot[list[Problem]]:
    """:func:`content_problems` at once: the last ones, read again in the background when
    an answer file changed (see :meth:`FileCache.latest`)."""
    return CACHE.latest(("problems", str(settings.content_dir)),
                        CACHE.signature(settings.content_dir), content_problems, settings)


# -- translators -------------------------------------------------------------------------------


def target_languages_of(settings: Settings) -> list[str]:
    """The languages translators work on."""
    return [lang for lang in target_languages(settings) if lang != settings.source_language]


TranslationState = dict[str, tuple[LanguageProgress, list[TodoItem]]]


def translation_snapshot(settings: Settings) -> Snapshot[TranslationState]:
    """:func:`translation_state` at once: the last figures, being updated in the background
    when an answer or a catalog changed since (see :meth:`FileCache.latest`)."""
    catalogs = []
    for language in target_languages_of(settings):
        path = catalog_path(settings.locales_dir, language)
        try:
            info = path.stat()
            catalogs.append((language, info.st_size, info.st_mtime_ns))
        except OSError:
            catalogs.append((language, -1, -1))
    signature = (CACHE.signature(settings.content_dir), tuple(catalogs))
    return CACHE.latest(("translation", f"{settings.content_dir}|{settings.locales_dir}"),
                        signature, translation_state, settings)


def translation_state(settings: Settings) -> TranslationState:
    """Per language: progress and to-do, from the cache ``syndicate i18n status`` keeps (a
    catalog is checked again only where its messages changed). The pages read it through
    :func:`translation_snapshot`, which keeps the last result and computes a new one, in a
    worker process, only when an answer or a catalog changed."""
    messages: list[Scope] = answer_scopes(settings)
    return {language: language_state(settings, messages, language)
            for language in target_languages_of(settings)}


def readers_per_language(engine: Engine, langs: Sequence[str]) -> dict[str, int]:
    """How many partners receive each language through an active or paused endpoint (an
    endpoint without a language filter receives them all; one an operator added counts as
    a partner of its own)."""
    s = subscribers.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(s.id, s.owner, s.languages).where(s.kind == "webhook")
                            .where(s.status.in_(["active", "paused"]))).all()
    readers: dict[str, set[str]] = {lang: set() for lang in langs}
    for row in rows:
        for lang in json.loads(row.languages) or list(langs):
            if lang in readers:
                readers[lang].add(row.owner or row.id)
    return {lang: len(found) for lang, found in readers.items()}


@dataclasses.dataclass(frozen=True, slots=True)
class StaleItem:
    """A language still showing an older review than the source."""

    answer_id: str
    title: str
    reviewed: dt.date
    source_reviewed: dt.date
    days: int
    """Days since the source was re-reviewed (how long the translation has been stale)."""


def stale_translations(engine: Engine, language: str, *, now: dt.datetime) -> list[StaleItem]:
    """The language's stale renditions, the longest stale first."""
    r = renditions.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(r.answer_id, r.title, r.reviewed, r.source_reviewed)
            .where(r.language == language).where(r.stale.is_(True))
            .where(r.withdrawn.is_(False)).order_by(r.source_reviewed, r.answer_id)).all()
    return [StaleItem(row.answer_id, row.title, row.reviewed, row.source_reviewed,
                      (now.date() - row.source_reviewed).days) for row in rows]


def pause_job(engine: Engine, name: str) -> None:
    """Stop scheduling a job until resumed."""
    pause(engine, name)


def resume_job(engine: Engine, name: str, *, now: dt.datetime) -> None:
    """Schedule a paused job again."""
    resume(engine, name, now=now)


def is_rtl(language: str) -> bool:
    """Whether the language is written right to left (its text is marked ``dir="rtl"``)."""
    try:
        return babel_locale(language).character_order == "right-to-left"
    except (CatalogError, InputError):  # an unknown tag is shown left to right
        return False
