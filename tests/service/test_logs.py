"""Logs: one JSON object per line with the context that matters, never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from syndicate.config import Settings
from syndicate.service import logs
from syndicate.service.process import RunProcess


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_context_and_mask_secrets(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("json", stream=stream)
    log = logging.getLogger("syndicate.test")
    log.info("answer changed", extra={"job": "sync", "run_id": "run_1", "answer": "a1",
                                      "language": "de", "unrelated": "dropped"})
    log.warning("delivery attempt failed", extra={"subscriber": "sub_1", "secret": "whsec_x",
                                                  "error": "HTTP 500"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "answer changed" and first["level"] == "info"
    assert (first["job"], first["run_id"], first["answer"], first["language"]) == (
        "sync", "run_1", "a1", "de")
    assert "unrelated" not in first and first["time"].endswith("Z")
    assert second["subscriber"] == "sub_1" and "whsec_x" not in lines[1]


def test_text_format_is_one_readable_line(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("text", stream=stream)
    logging.getLogger("syndicate.test").info("run finished",
                                             extra={"job": "report", "outcome": "ok"})
    line = stream.getvalue().strip()
    assert "syndicate.test: run finished job=report outcome=ok" in line


def test_readiness_reports_the_database_and_the_role(
    engine: sa.engine.Engine, settings: Settings
) -> None:
    service = RunProcess(settings, engine, announce=lambda line: None)
    assert service.readiness() == {"ready": True, "database": True, "schema": True,
                                   "scheduler": "standby"}
