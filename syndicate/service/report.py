"""The operators' report: what is published, what is stale or overdue, who is failing.

Read from the state store, so it describes what the last ``sync`` published: per language
the answers served, stale translations (a language still showing an older review than the
source), answers past their ``review_due`` date, subscribers failing or disabled, and the
last run of every job. ``syndicate status`` prints it; the ``report`` job logs it and keeps
it in the run history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..store import job_runs, renditions, subscribers


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageRow:
    """One language's figures."""

    language: str
    publishable: int
    stale: int
    overdue: int


@dataclasses.dataclass(frozen=True, slots=True)
class ReviewItem:
    """One answer in one language that needs attention."""

    answer_id: str
    language: str
    title: str
    reviewed: dt.date
    source_reviewed: dt.date
    review_due: dt.date | None


@dataclasses.dataclass(frozen=True, slots=True)
class SubscriberRow:
    """A subscriber that is failing or disabled."""

    id: str
    url: str
    status: str
    failing_since: dt.datetime | None
    reason: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class LastRun:
    """The latest run of a job."""

    job: str
    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    error: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """Everything ``syndicate status`` shows."""

    generated_at: dt.datetime
    languages: tuple[LanguageRow, ...]
    stale: tuple[ReviewItem, ...]
    overdue: tuple[ReviewItem, ...]
    subscribers: tuple[SubscriberRow, ...]
    jobs: tuple[LastRun, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (dates as ISO 8601 strings)."""
        data: dict[str, Any] = _plain(dataclasses.asdict(self))
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def collect(engine: Engine, *, now: dt.datetime, jobs: tuple[str, ...] = ()) -> Report:
    """Build the report from the store as of ``now``."""
    r = renditions.c
    today = now.date()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(r.answer_id, r.language, r.title, r.reviewed, r.source_reviewed,
                      r.review_due, r.stale)
            .where(r.withdrawn.is_(False))
            .order_by(r.language, r.answer_id)
        ).all()
        s = subscribers.c
        troubled = conn.execute(
            sa.select(s.id, s.url, s.status, s.failing_since, s.status_reason)
            .where(sa.or_(s.status == "disabled", s.failing_since.is_not(None)))
            .order_by(s.id)
        ).all()
        last = _last_runs(conn, jobs)
    per_language: dict[str, list[int]] = {}
    stale: list[ReviewItem] = []
    overdue: list[ReviewItem] = []
    for row in rows:
        counts = per_language.setdefault(row.language, [0, 0, 0])
        item = ReviewItem(row.answer_id, row.language, row.title, row.reviewed, row.source_reviewed,
                    row.review_due)
        counts[0] += 1
        if row.stale:
            counts[1] += 1
            stale.append(item)
        if row.review_due is not None and row.review_due < today:
            counts[2] += 1
            overdue.append(item)
    return Report(
        generated_at=now,
        languages=tuple(LanguageRow(lang, *counts) for lang, counts in per_language.items()),
        stale=tuple(stale),
        overdue=tuple(overdue),
        subscribers=tuple(SubscriberRow(*row) for row in troubled),
        jobs=last,
    )


def _last_runs(conn: sa.Connection, jobs: tuple[str, ...]) -> tuple[LastRun, ...]:
    j = job_runs.c
    latest = (
        sa.select(j.job, sa.func.max(j.started_at).label("started"))
        .where(j.outcome != "missed")
        .group_by(j.job)
        .subquery()
    )
    found = {
        row.job: LastRun(row.job, row.id, row.started_at, row.finished_at, row.outcome, row.error)
        for row in conn.execute(
            sa.select(j.job, j.id, j.started_at, j.finished_at, j.outcome, j.error)
            .join(latest, sa.and_(latest.c.job == j.job, latest.c.started == j.started_at))
        )
    }
    names = list(jobs) + sorted(set(found) - set(jobs))
    return tuple(found[name] for name in names if name in found)
