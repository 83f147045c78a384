"""Logging for the long-running processes: one JSON object per line, or plain text.

Context travels in the standard ``extra`` mapping (``log.info("...", extra={"job": ...})``);
only the fields in :data:`CONTEXT` are written, so a secret passed by mistake in ``extra``
never reaches the log, and values of keys that look like credentials are masked anyway.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import IO, Any

from .._time import rfc3339

CONTEXT = (
    "job", "run_id", "trigger", "outcome", "seconds", "answer", "language", "subscriber",
    "delivery", "webhook_id", "status", "attempt", "state", "holder", "lease", "host", "port",
    "url", "error", "events", "deliveries", "attempts", "delivered", "failed", "count",
    "worker", "change", "summary",
)
"""The ``extra`` keys written to the log, in this order."""
_SECRETS = ("secret", "token", "password", "authorization")


def _value(key: str, value: Any) -> Any:
    if any(word in key for word in _SECRETS):
        return "***"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _context(record: logging.LogRecord) -> dict[str, Any]:
    fields = record.__dict__
    return {key: _value(key, fields[key]) for key in CONTEXT if key in fields}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...context, "exception"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": rfc3339(dt.datetime.fromtimestamp(record.created, dt.UTC), "milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_context(record))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def log_json(logger: str, message: str, level: int = logging.INFO) -> str:
    """One line as :class:`JsonFormatter` writes it, for output that is not logged."""
    record = logging.LogRecord(logger, level, "", 0, message, None, None)
    return JsonFormatter().format(record)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%H:%M:%S")
        context = " ".join(f"{k}={v}" for k, v in _context(record).items())
        line = f"{when} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        line = f"{line} {context}" if context else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _MigrationChatter(logging.Filter):
    """Drops what Alembic says each time it merely looks at the schema version (twice per
    command): only lines of migrations that actually run get through."""

    QUIET = ("Context impl ", "Will assume ")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.QUIET)


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
"""The values of the ``log_level`` setting."""


def configure(log_format: str, *, stream: IO[str] | None = None,
              level: int | str = logging.INFO) -> None:
    """Send every log record (Syndicate's, uvicorn's, APScheduler's, Alembic's) to
    ``stream``, at ``level`` (a number or a name of :data:`LEVELS`) and above."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_MigrationChatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[level] if isinstance(level, str) else level)
    # APScheduler logs every run at INFO; the run history and our own lines say it better.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
