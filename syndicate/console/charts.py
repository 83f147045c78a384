"""The operators' charts of the last 24 hours, read from the store and drawn as SVG.

Drawn on the server, so a chart needs no script and no external asset and passes the
page's Content-Security-Policy: an ``<svg role="img">`` with a title and a description
that says the same in words (screen readers, and text-only browsers, get the figures).
Only presentation attributes are used (no ``style``), so no inline style is needed either.

The figures per minute: attempts answered 2xx (sent) and the others (failed), from the
attempts' times; the queue depth, from the samples the ``deliver`` job records once a
minute (:mod:`syndicate.store.samples`: deliveries due, and pending with their retries): a
minute without a sample (no deliver run, the service down) is a gap in the line, not a zero;
and the duration of each ``sync`` run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..store import attempts, job_runs, queue_samples_since

MINUTES = 24 * 60
WIDTH, HEIGHT, PAD = 720, 160, 32


@dataclasses.dataclass(frozen=True, slots=True)
class Series:
    """Values per minute over the last day (oldest first), and each sync's duration."""

    start: dt.datetime
    sent: list[int]
    failed: list[int]
    due: list[int | None]
    """Deliveries due per minute, as sampled (``None``: no sample that minute)."""
    pending: list[int | None]
    """Deliveries pending (due or waiting for a retry) per minute, as sampled."""
    syncs: list[tuple[dt.datetime, float]]


def _minute_key(conn: sa.Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The minute of ``column`` as the database groups it cheaply: the first 16 characters
    of SQLite's stored text (``YYYY-MM-DD HH:MM``), PostgreSQL's ``date_trunc``."""
    if conn.dialect.name == "sqlite":
        return sa.func.substr(column, 1, 16, type_=sa.String)
    return sa.func.date_trunc("minute", column, type_=sa.DateTime)


SETTLED = dt.timedelta(minutes=5)
"""Minutes older than this are counted once and kept: attempts are recorded within their
claim's lease (a minute by default), so no attempt of a settled minute arrives later."""


class Rollup:
    """Per-minute counts of one grouped query, kept for settled minutes, so each page asks
    the database only for the minutes since the last page (the first page of a process
    counts the whole day)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[Any, str], dict[int, int]] = {}
        self.until: dict[tuple[Any, str], dt.datetime] = {}

    def per_minute(self, conn: sa.Connection, name: str,
                   query: Callable[[dt.datetime], sa.Select[Any]], start: dt.datetime,
                   now: dt.datetime) -> dict[int, list[int]]:
        """``{minute since start: [count per group]}`` of ``query(since)``'s rows of
        ``(minute key, group, count)``."""
        key = (conn.engine.url, name)
        settled = now.replace(second=0, microsecond=0) - SETTLED
        with self.lock:
            kept = self.counts.setdefault(key, {})
            since = max(start, self.until.get(key, start))
            fresh: dict[int, int] = {}
            for minute_key, group, count in conn.execute(query(since)):
                at = _aware(minute_key)
                slot = _slot(at, group)
                (kept if at < settled else fresh)[slot] = (
                    (kept if at < settled else fresh).get(slot, 0) + int(count))
            self.until[key] = max(since, settled)
            for slot in [slot for slot in kept if slot // 2 < _epoch_minute(start)]:
                del kept[slot]
            merged: dict[int, list[int]] = {}
            for source in (kept, fresh):
                for slot, count in source.items():
                    index = slot // 2 - _epoch_minute(start)
                    if 0 <= index < MINUTES:
                        merged.setdefault(index, [0, 0])[slot % 2] += count
        return merged


ROLLUP = Rollup()


def _aware(key: Any) -> dt.datetime:
    at = key if isinstance(key, dt.datetime) else dt.datetime.fromisoformat(str(key))
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at


def _epoch_minute(at: dt.datetime) -> int:
    return int(at.timestamp() // 60)


def _slot(at: dt.datetime, group: Any) -> int:
    return _epoch_minute(at) * 2 + (1 if group else 0)


def last_day(engine: Engine, *, now: dt.datetime) -> Series:
    """The last 24 hours, per minute: grouped by the database over covering indexes, the
    settled minutes kept by :data:`ROLLUP` between pages."""
    end = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    start = end - dt.timedelta(hours=24)
    a, j = attempts.c, job_runs.c
    with engine.connect() as conn:
        minute = _minute_key(conn, a.attempted_at)
        ok = sa.case((sa.and_(a.status_code >= 200, a.status_code < 300), 1), else_=0)
        tried = ROLLUP.per_minute(conn, "attempts", lambda since: sa.select(
            minute, ok, sa.func.count()).where(a.attempted_at >= since).group_by(minute, ok),
            start, now)
        runs = conn.execute(sa.select(j.started_at, j.finished_at).where(j.job == "sync")
                            .where(j.started_at >= start).where(j.finished_at.is_not(None))
                            .order_by(j.started_at)).all()
    sent = [tried.get(index, [0, 0])[1] for index in range(MINUTES)]
    failed = [tried.get(index, [0, 0])[0] for index in range(MINUTES)]
    due: list[int | None] = [None] * MINUTES
    pending: list[int | None] = [None] * MINUTES
    for sample in queue_samples_since(engine, start):
        index = _epoch_minute(sample.minute) - _epoch_minute(start)
        if 0 <= index < MINUTES:
            due[index], pending[index] = sample.due, sample.pending
    return Series(start, sent, failed, due, pending,
                  [(r.started_at, (r.finished_at - r.started_at).total_seconds()) for r in runs])


def _runs(values: Sequence[float | None], top: float) -> list[str]:
    """The ``points`` of each unbroken run of known values: a ``None`` (a minute nothing
    was measured) breaks the line instead of drawing it to zero."""
    step = (WIDTH - 2 * PAD) / max(1, len(values) - 1)
    scale = (HEIGHT - 2 * PAD) / top if top else 0
    runs: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(f"{PAD + i * step:.1f},{HEIGHT - PAD - v * scale:.1f}")
    return [" ".join(run) for run in runs if run]


def _summary(label: str, values: Sequence[float | None], unit: str, total: bool) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return f"{label}: no sample"
    gaps = len(values) - len(known)
    return (f"{label}: " + (f"total {sum(known):g}, " if total else f"now {known[-1]:g}, ")
            + f"peak {max(known):g} {unit}"
            + (f" ({gaps} minutes without a sample)" if gaps else ""))


def line_chart(title: str, start: dt.datetime,
               lines: Sequence[tuple[str, str, Sequence[float | None]]], unit: str, *,
               total: bool = True) -> Markup:
    """An SVG line chart of per-minute ``lines`` (label, colour, values) since ``start``; a
    ``None`` value is a gap. ``total``: the description sums the values (counts per
    minute), else it gives the last one (levels, like a queue's depth)."""
    top = max([max([v for v in values if v is not None], default=0) for _, _, values in lines]
              + [1])
    summary = "; ".join(_summary(label, values, unit, total) for label, _, values in lines)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{_id(title)}-t '
        f'{_id(title)}-d" class="chart" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">From {rfc3339(start, "seconds")}, per minute. '
        f'{escape(summary)}.</desc>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#555" stroke-width="1"/>',
        f'<text x="{PAD}" y="{PAD - 8}" font-size="12" fill="#222">{top:g} {escape(unit)}</text>',
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="12" fill="#222">24 h ago</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="12" fill="#222" '
        'text-anchor="end">now</text>',
    ]
    for offset, (label, colour, values) in enumerate(lines):
        parts.extend(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'points="{points}"/>' for points in _runs(values, top))
        parts.append(f'<text x="{WIDTH - PAD}" y="{PAD - 8 + 14 * offset}" font-size="12" '
                     f'fill="{colour}" text-anchor="end">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, start: dt.datetime, runs: Sequence[tuple[dt.datetime, float]]) -> Markup:
    """An SVG bar per sync run: its duration in seconds, at its start time."""
    top = max([seconds for _, seconds in runs] + [0.001])
    span = (WIDTH - 2 * PAD)
    bars = []
    for at, seconds in runs:
        x = PAD + span * min(1.0, (at - start).total_seconds() / 86400)
        h = (HEIGHT - 2 * PAD) * seconds / top
        bars.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="3" height="{h:.1f}" '
                    'fill="#1f5fa8"/>')
    summary = (f"{len(runs)} sync runs, longest {top:.2f} s" if runs else "no sync run")
    ident = _id(title)
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'class="chart" xmlns="http://www.w3.org/2000/svg"><title id="{ident}-t">'
        f'{escape(title)}</title><desc id="{ident}-d">{escape(summary)} in the last 24 hours.'
        f'</desc><line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        f'stroke="#555" stroke-width="1"/><text x="{PAD}" y="{PAD - 8}" font-size="12" '
        f'fill="#222">{top:.2f} s</text>' + "".join(bars) + "</svg>")


def stacked_bar(label: str, parts: Sequence[tuple[str, str, int]]) -> Markup:
    """A horizontal bar of ``parts`` (name, colour, count), e.g. a language's progress."""
    total = sum(count for _, _, count in parts) or 1
    x = 0.0
    rects = []
    for name, colour, count in parts:
        width = 300 * count / total
        if width:
            rects.append(f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="16" '
                         f'fill="{colour}"><title>{escape(name)}: {count}</title></rect>')
        x += width
    words = ", ".join(f"{name} {count}" for name, _, count in parts)
    return Markup(f'<svg viewBox="0 0 300 16" class="bar" role="img" '
                  f'aria-label="{escape(label)}: {escape(words)}" '
                  f'xmlns="http://www.w3.org/2000/svg">' + "".join(rects) + "</svg>")


def _id(title: str) -> str:
    return "c-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())
