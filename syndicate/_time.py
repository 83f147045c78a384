"""The clock, the one timestamp format, and the name a process goes by.

Everything that needs the time takes a :data:`Clock` (tests pass a fixed one, see
:class:`syndicate.testing.FixedClock`); :func:`utc_now` is the real one. Every timestamp
Syndicate writes (webhook payloads, API answers, feeds, logs, the run history) is RFC 3339
in UTC with a ``Z``, by :func:`rfc3339`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from typing import Literal

Clock = Callable[[], dt.datetime]
"""Gives the current time, timezone-aware, in UTC."""

Precision = Literal["auto", "seconds", "milliseconds"]


def utc_now() -> dt.datetime:
    """The real clock."""
    return dt.datetime.now(dt.UTC)


def rfc3339(moment: dt.datetime, precision: Precision = "auto") -> str:
    """``moment`` in UTC as RFC 3339 with a ``Z``: ``2026-05-01T12:00:00Z``.

    ``seconds`` drops the fraction (webhooks, the API, the run history); ``milliseconds``
    keeps three digits (logs); ``auto`` keeps microseconds when there are any (feeds).
    """
    text = moment.astimezone(dt.UTC).isoformat(timespec=precision)
    return text.replace("+00:00", "Z")


def process_name() -> str:
    """``host:pid``: who holds a lease, runs a job or made a delivery attempt."""
    return f"{socket.gethostname()}:{os.getpid()}"
