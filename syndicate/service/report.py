"""The operators' report: what is published, what is refused, stale or overdue, who is
failing, and whether anything needs attention.

Read from the state store, so it describes what the last ``sync`` published and found: per
language the answers served, stale translations (a language still showing an older review
than the source), answers past their ``review_due`` date, translations refused (fuzzy,
missing or failing checks, with the reasons) and content errors; subscribers failing or
disabled; the last run of every job. ``syndicate status`` prints it (``--check`` exits
non-zero when :attr:`Report.attention` is not empty); the ``report`` job logs it and keeps it
in the run history. :meth:`Report.as_dict` is the stable ``--json`` document
(:data:`FORMAT` changes when a field changes meaning or goes away; fields may be added).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..metrics import MISSED, OK, content_counts, last_sync_summary
from ..store import job_runs, renditions, subscribers

FORMAT = 1
"""Version of the ``syndicate status --json`` document."""


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageRow:
    """One language's figures."""

    language: str
    publishable: int
    stale: int
    overdue: int
    refused: int = 0
    """Answers not published as current in this language (see :attr:`Report.refused`)."""
    content_errors: int = 0
    """Errors in this language's inputs: answer files for the source language, the catalog
    for the others."""


@dataclasses.dataclass(frozen=True, slots=True)
class RefusedItem:
    """An answer the last sync could not publish as current in a language, and why."""

    answer_id: str
    language: str
    reasons: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class ReviewItem:
    """One answer in one language that needs attention."""

    answer_id: str
    language: str
    title: str
    reviewed: dt.date
    source_reviewed: dt.date
    review_due: dt.date | None
    source_path: str = ""
    """The answer's file as the last sync read it (with the id, the answer's one name)."""


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
    refused: tuple[RefusedItem, ...] = ()
    errors: tuple[str, ...] = ()
    """Content and catalog errors the last sync found (``file:line: field: reason``)."""
    warnings: tuple[str, ...] = ()
    synced_at: dt.datetime | None = None
    """When the sync that found the refused translations and problems finished."""

    @property
    def attention(self) -> tuple[str, ...]:
        """What needs an operator, one line each; empty when all is well."""
        errors = sum(row.content_errors for row in self.languages)
        refused = sum(row.refused for row in self.languages)
        found = [f"{errors} content error(s)"] if errors else []
        if refused:
            found.append(f"{refused} refused translation(s)")
        for label, items in (("stale translation(s)", self.stale),
                             ("answer(s) past review_due", self.overdue),
                             ("subscriber(s) failing or disabled", self.subscribers)):
            if items:
                found.append(f"{len(items)} {label}")
        if self.synced_at is None:
            found.append("no sync has finished yet")
        found += [f"job {run.job}: last run {run.outcome}" for run in self.jobs
                  if run.outcome not in (OK, "running", "skipped")]
        return tuple(found)

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON document (dates as ISO 8601 strings), see :data:`FORMAT`."""
        data: dict[str, Any] = _plain(dataclasses.asdict(self))
        data["format"] = FORMAT
        data["attention"] = list(self.attention)
        data["ok"] = not self.attention
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


def collect(engine: Engine, *, now: dt.datetime, jobs: tuple[str, ...] = (),
            source_language: str = "en") -> Report:
    """Build the report from the store as of ``now``."""
    r = renditions.c
    today = now.date()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(r.answer_id, r.language, r.title, r.reviewed, r.source_reviewed,
                      r.review_due, r.stale, r.source_path)
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
        summary = last_sync_summary(conn)
        synced_at = _last_sync_time(conn)
    per_language: dict[str, list[int]] = {}
    stale: list[ReviewItem] = []
    overdue: list[ReviewItem] = []
    for row in rows:
        counts = per_language.setdefault(row.language, [0, 0, 0, 0, 0])
        item = ReviewItem(row.answer_id, row.language, row.title, row.reviewed, row.source_reviewed,
                          row.review_due, row.source_path)
        counts[0] += 1
        if row.stale:
            counts[1] += 1
            stale.append(item)
        if row.review_due is not None and row.review_due < today:
            counts[2] += 1
            overdue.append(item)
    refused = [RefusedItem(item["answer"], language, tuple(item["reasons"]))
               for language, items in sorted(summary.get("refused", {}).items())
               for item in items]
    error_count, _, refused_counts = content_counts(summary)
    for language, count in refused_counts.items():
        per_language.setdefault(language, [0, 0, 0, 0, 0])[3] += count
    problems = summary.get("problems", {})
    errors = tuple(problems.get("errors", ()))
    for error in errors:
        language = _language_of(error, per_language) or source_language
        per_language.setdefault(language, [0, 0, 0, 0, 0])[4] += 1
    if error_count > len(errors):  # only the first ones are kept: the rest, unattributed
        per_language.setdefault(source_language, [0, 0, 0, 0, 0])[4] += error_count - len(errors)
    return Report(
        generated_at=now,
        languages=tuple(LanguageRow(lang, *per_language[lang]) for lang in sorted(per_language)),
        stale=tuple(stale),
        overdue=tuple(overdue),
        subscribers=tuple(SubscriberRow(*row) for row in troubled),
        jobs=last,
        refused=tuple(refused),
        errors=errors,
        warnings=tuple(problems.get("warnings", ())),
        synced_at=synced_at,
    )


def _language_of(error: str, languages: dict[str, list[int]]) -> str | None:
    """The language whose catalog an error names (``.../<lang>/LC_MESSAGES/...``)."""
    path = error.split(":", 1)[0].replace("\\", "/").split("/")
    if "LC_MESSAGES" in path:
        index = path.index("LC_MESSAGES")
        return path[index - 1] if index else None
    return None


def _last_sync_time(conn: sa.Connection) -> dt.datetime | None:
    j = job_runs.c
    found: dt.datetime | None = conn.execute(
        sa.select(sa.func.max(j.finished_at)).where(j.job == "sync").where(j.outcome == OK)
    ).scalar()
    return found


def _last_runs(conn: sa.Connection, jobs: tuple[str, ...]) -> tuple[LastRun, ...]:
    j = job_runs.c
    latest = (
        sa.select(j.job, sa.func.max(j.started_at).label("started"))
        .where(j.outcome != MISSED)
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
