"""Prometheus metrics, in one registry per service (``/metrics``).

:class:`Metrics` owns a :class:`~prometheus_client.CollectorRegistry` (never the global one,
so two apps in one process, as in tests, never collide), with the process and platform
collectors and ``syndicate_build_info``. What the store knows is read when scraped
(:class:`StoreCollector`): deliveries by state, the queue of due deliveries and the age of
the oldest, stale and overdue answers, refused translations and content errors as the last
sync recorded them, failing and disabled subscribers, and when each job last succeeded,
whichever process ran it (a ``syndicate jobs run`` in an operator's shell included). What
happens in this process is recorded through methods that the HTTP app, the sync and the
scheduler call: :meth:`Metrics.record_job_run`, :meth:`Metrics.observe_feed_build`,
:meth:`Metrics.record_delivery`, :meth:`Metrics.record_missed_ticks`.

Job outcomes have one vocabulary (:data:`OUTCOMES`), written by the jobs into the run
history and counted here under the same names, so an alert on ``outcome="ok"`` matches what
``syndicate jobs history`` shows.

Labels are job names, outcomes, states, reasons and language codes only: never a URL, a
subscriber's secret or a token.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from ._time import Clock
from .store import deliveries, job_runs, renditions, subscribers

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

OK = "ok"
"""The job did its work."""
ERROR = "error"
"""The job raised; the run history keeps the error."""
SKIPPED = "skipped"
"""Not run: another run of the job was in progress, or this process does not lead."""
MISSED = "missed"
"""Ticks that never ran (no scheduler was running, or a run started past its grace time)."""
RUNNING = "running"
"""Started and not finished yet (only ever in the run history)."""
INTERRUPTED = "interrupted"
"""Its process died while it ran (only ever in the run history)."""
OUTCOMES = (OK, ERROR, SKIPPED, MISSED, RUNNING, INTERRUPTED)
"""Every outcome a job run can have, in the run history and in ``syndicate_job_runs_total``."""


def last_sync_summary(conn: sa.Connection) -> dict[str, Any]:
    """The summary of the latest sync that finished ``ok`` (its content problems and refused
    translations), ``{}`` before the first one."""
    j = job_runs.c
    raw = conn.execute(
        sa.select(j.summary).where(j.job == "sync").where(j.outcome == OK)
        .order_by(j.finished_at.desc(), j.id.desc()).limit(1)
    ).scalar()
    data = json.loads(raw) if raw else {}
    return data if isinstance(data, dict) else {}


def content_counts(summary: dict[str, Any]) -> tuple[int, int, dict[str, int]]:
    """Content errors, content warnings and refused translations per language in a sync's
    summary (it keeps the counts, and only the first of each list)."""
    problems = summary.get("problems", {})
    counts = summary.get("problem_counts", {})
    errors = int(counts.get("errors", len(problems.get("errors", []))))
    warnings = int(counts.get("warnings", len(problems.get("warnings", []))))
    refused = {language: len(items) for language, items in summary.get("refused", {}).items()}
    refused.update({k: int(v) for k, v in summary.get("refused_counts", {}).items()})
    return errors, warnings, refused


class StoreCollector(Collector):
    """Gauges read from the store at scrape time."""

    def __init__(self, engine: Engine, clock: Clock, source_language: str) -> None:
        self.engine = engine
        self.clock = clock
        self.source_language = source_language

    def describe(self) -> list[Metric]:
        """Nothing: describing would query the store when the collector is registered."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every gauge of the module doc, from one connection."""
        now = self.clock()
        with self.engine.connect() as conn:
            yield from self._deliveries(conn, now)
            yield from self._renditions(conn, now)
            yield from self._subscribers(conn)
            yield from self._jobs(conn)
            yield from self._problems(conn)

    def _deliveries(self, conn: sa.Connection, now: dt.datetime) -> Iterator[Metric]:
        d = deliveries.c
        states = conn.execute(sa.select(d.state, sa.func.count()).group_by(d.state)).all()
        due, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(d.due_at))
            .where(d.state == "pending").where(d.due_at <= now)
        ).one()
        by_state = GaugeMetricFamily(
            "syndicate_deliveries", "Deliveries in the store, by state.", labels=["state"]
        )
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        counts.update({state: int(count) for state, count in states})
        for state, count in sorted(counts.items()):
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily(
            "syndicate_delivery_queue_depth", "Deliveries due now and not yet sent.",
            value=int(due),
        )
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "syndicate_delivery_oldest_due_age_seconds",
            "How long the oldest delivery due now has been waiting (0 when none is due).",
            value=age,
        )

    def _renditions(self, conn: sa.Connection, now: dt.datetime) -> Iterator[Metric]:
        r = renditions.c
        overdue = sa.case((r.review_due < now.date(), 1), else_=0)
        rows = conn.execute(
            sa.select(r.language, sa.func.count(), sa.func.sum(sa.case((r.stale, 1), else_=0)),
                      sa.func.sum(overdue))
            .where(r.withdrawn.is_(False)).group_by(r.language)
        ).all()
        published = {lang: int(count) for lang, count, _, _ in rows}
        stale = {lang: int(count or 0) for lang, _, count, _ in rows}
        late = {lang: int(count or 0) for lang, _, _, count in rows}
        total = published.get(self.source_language, 0)
        completeness = GaugeMetricFamily(
            "syndicate_translation_completeness",
            "Share of the published answers with an up-to-date rendition, per language.",
            labels=["language"],
        )
        for language in sorted(published):
            fresh = published[language] - stale[language]
            completeness.add_metric([language], fresh / total if total else 0.0)
        yield completeness
        for name, text, values in (
            ("syndicate_answers_published", "Answers published, per language.", published),
            ("syndicate_answers_stale", "Published renditions showing an older review than "
             "the source, per language.", stale),
            ("syndicate_answers_overdue", "Published answers past their review_due date, "
             "per language.", late),
        ):
            family = GaugeMetricFamily(name, text, labels=["language"])
            for language in sorted(values):
                family.add_metric([language], values[language])
            yield family

    def _subscribers(self, conn: sa.Connection) -> Iterator[Metric]:
        s = subscribers.c
        failing, disabled = conn.execute(sa.select(
            sa.func.sum(sa.case((sa.and_(s.status != "disabled", s.failing_since.is_not(None)),
                                 1), else_=0)),
            sa.func.sum(sa.case((s.status == "disabled", 1), else_=0)),
        )).one()
        family = GaugeMetricFamily(
            "syndicate_subscribers_in_trouble",
            "Subscribers whose deliveries are failing, or that were disabled.", labels=["state"],
        )
        family.add_metric(["failing"], int(failing or 0))
        family.add_metric(["disabled"], int(disabled or 0))
        yield family

    def _jobs(self, conn: sa.Connection) -> Iterator[Metric]:
        j = job_runs.c
        rows = conn.execute(
            sa.select(j.job, sa.func.max(j.finished_at)).where(j.outcome == OK).group_by(j.job)
        ).all()
        family = GaugeMetricFamily(
            "syndicate_job_last_success_timestamp_seconds",
            "When each job last finished ok, in any process (seconds since the epoch).",
            labels=["job"],
        )
        for job, finished in sorted(rows):
            if finished is not None:
                family.add_metric([job], finished.timestamp())
        yield family

    def _problems(self, conn: sa.Connection) -> Iterator[Metric]:
        errors, warnings, refused_counts = content_counts(last_sync_summary(conn))
        problems = GaugeMetricFamily(
            "syndicate_content_problems",
            "Content and catalog problems the last sync found, by severity.", labels=["severity"],
        )
        problems.add_metric(["error"], errors)
        problems.add_metric(["warning"], warnings)
        yield problems
        refused = GaugeMetricFamily(
            "syndicate_translations_refused",
            "Answers the last sync could not publish as current in a language (fuzzy, "
            "missing or failing checks), per language.", labels=["language"],
        )
        for language, count in sorted(refused_counts.items()):
            refused.add_metric([language], count)
        yield refused


class Metrics:
    """The metrics of one Syndicate service."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 version: str = "") -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Info("syndicate_build", "The running Syndicate and Python.",
             registry=self.registry).info({
                 "version": version or _version(),
                 "python": platform.python_version()})
        self.job_runs = Counter(
            "syndicate_job_runs", "Job runs in this process, by job and outcome "
            "(ok, error, skipped, missed).", ["job", "outcome"], registry=self.registry,
        )
        self.job_missed_ticks = Counter(
            "syndicate_job_missed_ticks", "Scheduled ticks that never ran (no scheduler was "
            "running, or too late), by job.", ["job"], registry=self.registry,
        )
        self.job_duration = Histogram(
            "syndicate_job_duration_seconds", "Duration of job runs in this process.", ["job"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
        )
        self.feed_build = Histogram(
            "syndicate_feed_build_seconds", "Time to localize and publish the feeds (a sync).",
            registry=self.registry, buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.delivery_attempts = Counter(
            "syndicate_delivery_attempts", "Webhook and WebSub delivery attempts, by outcome.",
            ["outcome"], registry=self.registry,
        )
        self.api_requests = Counter(
            "syndicate_api_requests", "API requests, by status class.", ["status"],
            registry=self.registry,
        )
        self._store: StoreCollector | None = None

    def watch_store(self, engine: Engine, clock: Clock, source_language: str) -> None:
        """Report what the store knows at every scrape (once per app)."""
        if self._store is None:
            self._store = StoreCollector(engine, clock, source_language)
            self.registry.register(self._store)

    def record_job_run(self, job: str, outcome: str, seconds: float) -> None:
        """One run of a job, with an outcome of :data:`OUTCOMES`."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown job outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
        self.job_runs.labels(job=job, outcome=outcome).inc()
        self.job_duration.labels(job=job).observe(max(seconds, 0.0))

    def record_missed_ticks(self, job: str, ticks: int) -> None:
        """``ticks`` scheduled runs of ``job`` never happened."""
        if ticks > 0:
            self.job_missed_ticks.labels(job=job).inc(ticks)

    def observe_feed_build(self, seconds: float) -> None:
        """One build of the publication tree took ``seconds``."""
        self.feed_build.observe(max(seconds, 0.0))

    def record_delivery(self, outcome: str, count: int = 1) -> None:
        """Delivery attempts settled: ``delivered``, ``retry`` or ``dead``."""
        self.delivery_attempts.labels(outcome=outcome).inc(count)

    def render(self) -> bytes:
        """The exposition text (reads the store: call off the event loop)."""
        return generate_latest(self.registry)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("syndicate")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"
