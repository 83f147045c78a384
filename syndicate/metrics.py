"""Prometheus metrics, in one registry per service (``/metrics``).

:class:`Metrics` owns a :class:`~prometheus_client.CollectorRegistry` (never the global one,
so two apps in one process, as in tests, never collide). What the store knows is read when
scraped: deliveries by state, the queue of due deliveries, per-language translation
completeness. What happens in the process is recorded through methods that the HTTP app, the
sync and the scheduler call: :meth:`Metrics.record_job_run`, :meth:`Metrics.observe_feed_build`,
:meth:`Metrics.record_delivery`.

Labels are job names, outcomes, states and language codes only: never a URL, a subscriber's
secret or a token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from ._time import Clock
from .store import deliveries, renditions

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
        """Deliveries by state, due deliveries, translation completeness per language."""
        d, r = deliveries.c, renditions.c
        now = self.clock()
        with self.engine.connect() as conn:
            states = conn.execute(sa.select(d.state, sa.func.count()).group_by(d.state)).all()
            due = conn.execute(
                sa.select(sa.func.count()).select_from(deliveries)
                .where(d.state == "pending").where(d.due_at <= now)
            ).scalar_one()
            per_language = conn.execute(
                sa.select(r.language, r.stale, sa.func.count())
                .where(r.withdrawn.is_(False)).group_by(r.language, r.stale)
            ).all()
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
        fresh: dict[str, int] = {}
        for language, stale, count in per_language:
            fresh.setdefault(language, 0)
            if not stale:
                fresh[language] += int(count)
        total = fresh.get(self.source_language, 0)
        completeness = GaugeMetricFamily(
            "syndicate_translation_completeness",
            "Share of the published answers with an up-to-date rendition, per language.",
            labels=["language"],
        )
        for language, count in sorted(fresh.items()):
            completeness.add_metric([language], count / total if total else 0.0)
        yield completeness


class Metrics:
    """The metrics of one Syndicate service."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.job_runs = Counter(
            "syndicate_job_runs", "Scheduled job runs, by job and outcome.",
            ["job", "outcome"], registry=self.registry,
        )
        self.job_duration = Histogram(
            "syndicate_job_duration_seconds", "Duration of scheduled job runs.", ["job"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
        )
        self.job_last_success = Gauge(
            "syndicate_job_last_success_timestamp_seconds",
            "When each job last succeeded (seconds since the epoch).", ["job"],
            registry=self.registry,
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
        """Report the store's deliveries and translations at every scrape (once per app)."""
        if self._store is None:
            self._store = StoreCollector(engine, clock, source_language)
            self.registry.register(self._store)

    def record_job_run(
        self, job: str, outcome: str, seconds: float, *, finished_at: dt.datetime | None = None
    ) -> None:
        """One run of a scheduled job: ``outcome`` is ``success``, ``error`` or ``missed``."""
        self.job_runs.labels(job=job, outcome=outcome).inc()
        self.job_duration.labels(job=job).observe(max(seconds, 0.0))
        if outcome == "success":
            when = finished_at or dt.datetime.now(dt.UTC)
            self.job_last_success.labels(job=job).set(when.timestamp())

    def observe_feed_build(self, seconds: float) -> None:
        """One build of the publication tree took ``seconds``."""
        self.feed_build.observe(max(seconds, 0.0))

    def record_delivery(self, outcome: str, count: int = 1) -> None:
        """Delivery attempts settled: ``delivered``, ``retry`` or ``dead``."""
        self.delivery_attempts.labels(outcome=outcome).inc(count)

    def render(self) -> bytes:
        """The exposition text (reads the store: call off the event loop)."""
        return generate_latest(self.registry)

