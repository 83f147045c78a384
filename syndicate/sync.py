"""The sync use case: localize, detect changes, store them, queue their webhooks and publish
the tree, all or nothing.

One transaction holds the whole change (:func:`sync`): the rendition state, the events and
their deliveries (:mod:`syndicate.webhooks.outbox`), and the publication tree itself, written
inside it, so the feeds show exactly what the store records (stale renditions included) and
a failed write rolls the whole sync back. Rewritten feeds are queued for their WebSub
subscribers in the same transaction. Re-running a sync, after a crash or twice in a row,
computes the same event ids: nothing is queued twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection, Engine

from .answers import Incomplete, Localization, Progress, localize_corpus
from .config import Settings
from .incremental import SYNC_RECORD, Inputs, SyncRecord, TreeStamp, store_stamp
from .publication import BuildResult, publish
from .webhooks import ChangeSet, events, outbox, subscribers, websub

if TYPE_CHECKING:
    from .metrics import Metrics

Publisher = Callable[[ChangeSet], object]
"""Called inside the sync transaction with what to publish; raising rolls the sync back."""
Distributor = Callable[[Connection, object], int]
"""Called in the same transaction with what the publisher returned; the deliveries made."""


@dataclasses.dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync stored and enqueued."""

    diff: ChangeSet
    events: tuple[str, ...]
    """Ids of the events enqueued by this run."""
    deliveries: int
    errors: tuple[str, ...] = ()
    """Content and catalog errors (``file:line: field: reason``) the localization met; what
    they concern was not (re)published, and its last published version stays."""
    warnings: tuple[str, ...] = ()
    """Content warnings (``file:line: field: warning: reason``)."""
    refused: tuple[Incomplete, ...] = ()
    """Answers that could not be published as current in a language, with the reasons."""
    skipped: bool = False
    """Nothing changed since the last sync (inputs, store and tree): nothing was read,
    localized, diffed or written, and ``diff`` is empty."""
    rerendered: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Per language, how many answers were localized afresh (the rest came from the cache);
    languages with none are left out."""
    rerendered_answers: int = 0
    """How many answers were localized afresh in at least one language."""
    fingerprint: str = ""
    """The fingerprint of the inputs this sync read (:class:`~syndicate.incremental.Inputs`)."""


def sync(
    engine: Engine,
    localization: Localization,
    *,
    now: dt.datetime,
    base_url: str,
    publish: Publisher | None = None,
    distribute: Distributor | None = None,
    review_notice_days: int = 30,
) -> SyncResult:
    """Diff, store the state, enqueue events and deliveries, publish: all or nothing.

    ``distribute`` is called in the same transaction with what ``publish`` returned, to queue
    deliveries of the published files themselves (WebSub content distribution).
    """
    with engine.begin() as conn:
        changes = events.diff(localization, outbox.load_stored(conn), now, review_notice_days)
        fresh = outbox.record_changes(conn, changes, base_url=base_url, now=now)
        count = outbox.enqueue(conn, fresh, subscribers.recipients(conn), now) if fresh else 0
        if publish is not None:
            published = publish(changes)
            if distribute is not None:
                count += distribute(conn, published)
    return SyncResult(changes, tuple(row["id"] for row in fresh), count)


CACHE = "cache"
"""The localization cache's folder, under the state folder."""

_paused = 0
_paused_lock = threading.Lock()


@contextlib.contextmanager
def _collections_paused() -> Iterator[None]:
    """No cyclic garbage collection while a sync runs, one full collection after.

    A sync makes hundreds of thousands of small objects that live until it ends (answers,
    renditions, entries, keys); the collector scans them again and again for cycles they
    do not form: about a fifth of a sync's CPU at 1,000 answers x 10 languages, more as
    the corpus grows. What little cyclic garbage a sync makes waits until it ends (the peak
    memory of a first sync grew by 4 %). Concurrent syncs re-enable it when the last ends.
    """
    global _paused
    with _paused_lock:
        if _paused == 0 and not gc.isenabled():  # someone else turned it off: leave it
            owned = False
        else:
            owned = True
            _paused += 1
            gc.disable()
    try:
        yield
    finally:
        if owned:
            with _paused_lock:
                _paused -= 1
                if _paused == 0:
                    gc.enable()
            gc.collect()


def sync_and_publish(
    engine: Engine, settings: Settings, *, now: dt.datetime, progress: Progress | None = None,
    metrics: Metrics | None = None, incremental: bool = True,
) -> SyncResult:
    """Localize ``settings``' content, then :func:`sync` with the publication tree written
    inside the transaction and rewritten feeds queued for their WebSub subscribers;
    ``metrics`` gets the build time.

    Incremental (the default): when the inputs, the store and the tree are as the last sync
    left them (:class:`~syndicate.incremental.SyncRecord`), nothing is done; otherwise only
    what the localization cache does not hold is localized. ``incremental=False`` is the
    full path (every answer read, localized and rendered again); both give the same store
    and the same tree.
    """
    with _collections_paused():
        return _sync_and_publish(engine, settings, now=now, progress=progress,
                                 metrics=metrics, incremental=incremental)


def _sync_and_publish(
    engine: Engine, settings: Settings, *, now: dt.datetime, progress: Progress | None,
    metrics: Metrics | None, incremental: bool,
) -> SyncResult:
    started = time.perf_counter()
    out = settings.out_dir
    record = SyncRecord.read(out) if incremental else None
    inputs = Inputs.scan(settings, record.inputs if record is not None else None)
    # What a sync writes also depends on the day: overdue marks, review reminders and the
    # window of withdrawal notices. A record from another (UTC) day never stands.
    day = now.date().isoformat()
    if record is not None and record.stands(inputs, engine, out, day):
        if metrics is not None:
            metrics.observe_feed_build(time.perf_counter() - started)
        return SyncResult(ChangeSet((), {}), (), 0, skipped=True, fingerprint=inputs.fingerprint)
    with contextlib.suppress(FileNotFoundError):  # never taken for a finished sync
        (out / SYNC_RECORD).unlink()
    cache = settings.state_dir / CACHE if incremental else None
    localization = localize_corpus(settings, progress=progress, cache_dir=cache)

    def publish_changes(changes: ChangeSet) -> object:
        return publish(settings, dataclasses.replace(localization, renditions=changes.renditions),
                       now=now)

    def distribute(conn: Connection, published: object) -> int:
        written = published.written if isinstance(published, BuildResult) else ()
        return websub.enqueue_feed_updates(conn, settings, written, now)

    result = sync(engine, localization, now=now, base_url=settings.base_url,
                  publish=publish_changes, distribute=distribute,
                  review_notice_days=settings.review_notice_days)
    tree = TreeStamp.of(out)
    if tree is not None:
        # Without a record the next sync only does all the work again.
        with contextlib.suppress(OSError):
            SyncRecord(inputs, store_stamp(engine), tree, day).write(out)
    if metrics is not None:
        metrics.observe_feed_build(time.perf_counter() - started)
    corpus, fresh = localization.corpus, localization.rerendered
    return dataclasses.replace(
        result,
        errors=tuple(str(p) for p in corpus.errors)
        + tuple(str(e) for e in localization.catalog_errors),
        warnings=tuple(str(p) for p in corpus.warnings),
        refused=localization.incomplete,
        rerendered={lang: len(ids) for lang, ids in fresh.items() if ids},
        rerendered_answers=len(set().union(*fresh.values())),
        fingerprint=inputs.fingerprint,
    )
