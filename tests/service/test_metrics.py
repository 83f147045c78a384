"""What operators alert on: a real job run read back through /metrics with Prometheus' own
parser, content problems kept and shown once per change, and `syndicate status`."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po, write_po
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from syndicate.cli import cli
from syndicate.metrics import OUTCOMES
from syndicate.service import JobRunner
from tests.support import ROOT, Service, service_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _families(service: Service) -> dict[str, list[tuple[dict[str, str], float]]]:
    with service.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    return {family.name: [(sample.labels, sample.value) for sample in family.samples]
            for family in text_string_to_metric_families(response.text)}


def _break_answer(workspace: Path) -> Path:
    """A second answer file (a copy of the bundled one: a test fixture) with an impossible
    review date; the bundled answer stays valid."""
    source = next((workspace / "content").rglob("*.md"))
    path = source.with_name("fixture-broken-copy.md")
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("reviewed:"):
            lines[index] = "reviewed: 2026-02-30\n"
        elif line.startswith("id:"):
            lines[index] = "id: f1f2f3f4f5f6f7f8\n"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _fuzzy(workspace: Path, language: str) -> None:
    path = workspace / "locales" / language / "LC_MESSAGES" / "syndicate.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id:
            message.flags.add("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog)


def _cli(service: Service, workspace: Path, *args: str) -> tuple[int, str]:
    env = service_env(workspace, service.settings.database,
                      base_url=service.settings.base_url)
    result = CliRunner().invoke(cli, list(args), env={**os.environ, **env})
    return result.exit_code, result.output


def test_a_real_job_run_feeds_the_alerting_metrics(service: Service, workspace: Path) -> None:
    """A sync run by the service's runner and a deliver run from the command line both show
    in /metrics: the same outcome vocabulary as the run history, the last success of each
    job (whoever ran it), process and platform collectors, the build info, and gauges for
    content errors, refused translations, stale and overdue answers, the queue and the
    subscribers in trouble."""
    _break_answer(workspace)
    _fuzzy(workspace, "de")
    runner = JobRunner(service.engine, service.settings, metrics=service.metrics.record_job_run,
                       observed=service.metrics)
    assert runner.run("sync").outcome == "ok"
    code, output = _cli(service, workspace, "jobs", "run", "deliver")  # another process
    assert code == 0, output
    found = _families(service)

    runs = found["syndicate_job_runs"]
    assert ({"job": "sync", "outcome": "ok"}, 1.0) in runs
    assert all(labels["outcome"] in OUTCOMES for labels, _ in runs)
    last = {labels["job"]: value for labels, value in
            found["syndicate_job_last_success_timestamp_seconds"]}
    assert set(last) == {"sync", "deliver"}  # deliver ran in the CLI, not in this process
    assert all(value > 1.7e9 for value in last.values())
    assert any(name.startswith("process_") for name in found), sorted(found)
    assert "python_info" in found and "python_gc_objects_collected" in found
    (info, value), = found["syndicate_build_info"]
    assert value == 1.0 and info["version"] and info["python"]

    problems = dict((labels["severity"], value)
                    for labels, value in found["syndicate_content_problems"])
    assert problems["error"] == 1.0
    refused = {labels["language"]: value for labels, value in
               found["syndicate_translations_refused"]}
    assert refused.get("de", 0) >= 1.0
    assert "en" not in refused
    for name in ("syndicate_answers_stale", "syndicate_answers_overdue",
                 "syndicate_answers_published"):
        assert {labels["language"] for labels, _ in found[name]} >= {"en"}, name
    assert found["syndicate_delivery_queue_depth"] == [({}, 0.0)]
    assert found["syndicate_delivery_oldest_due_age_seconds"] == [({}, 0.0)]
    trouble = {labels["state"]: value
               for labels, value in found["syndicate_subscribers_in_trouble"]}
    assert trouble == {"disabled": 0.0, "failing": 0.0}


def test_content_problems_are_logged_once_per_change_and_kept(
    service: Service, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken answer file is logged with file:line when a sync first meets it, not at the
    following syncs; fixing it is logged too; `status` shows it meanwhile."""
    caplog.set_level(logging.INFO, logger="syndicate.jobs")
    path = _break_answer(workspace)
    runner = JobRunner(service.engine, service.settings)
    for _ in range(3):
        assert runner.run("sync").outcome == "ok"
    errors = [r for r in caplog.records if r.getMessage().startswith("content error: ")]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert f"{path}:" in errors[0].getMessage() and "2026-02-30" in errors[0].getMessage()
    assert errors[0].levelno == logging.ERROR

    code, output = _cli(service, workspace, "status")
    assert code == 0 and "2026-02-30" in output and "content errors" in output
    with service.client() as client:  # the health view shows it, without being unready
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["content_errors"] == 1

    path.unlink()
    assert runner.run("sync").outcome == "ok"
    assert any(r.getMessage().startswith("content error resolved: ") for r in caplog.records)


def test_status_shows_refusals_and_check_fails_with_stable_json(
    service: Service, workspace: Path
) -> None:
    """Per language: published, stale, overdue, refused (with the reason), content errors;
    `--check` exits 1 while anything needs attention; `--json` keeps its documented keys."""
    _fuzzy(workspace, "de")
    assert JobRunner(service.engine, service.settings).run("sync").outcome == "ok"
    code, output = _cli(service, workspace, "status", "--check")
    assert code == 1, output
    header = next(line for line in output.splitlines() if line.startswith("language"))
    assert header.split() == ["language", "published", "stale", "past", "review_due",
                              "refused", "content", "errors"]
    assert "refused translations" in output and "fuzzy" in output
    assert "needs attention:" in output

    code, output = _cli(service, workspace, "status", "--json", "--check")
    assert code == 1
    data = json.loads(output)
    assert data["format"] == 1 and data["ok"] is False
    assert set(data) >= {"generated_at", "languages", "stale", "overdue", "refused", "errors",
                         "warnings", "subscribers", "jobs", "synced_at", "attention"}
    de = next(row for row in data["languages"] if row["language"] == "de")
    assert set(de) == {"language", "publishable", "stale", "overdue", "refused",
                       "content_errors"}
    assert de["refused"] >= 1
    assert all(item["reasons"] for item in data["refused"])
    assert any("refused" in line for line in data["attention"])

    code, output = _cli(service, workspace, "status")
    assert code == 0  # without --check, the report alone never fails


def test_alerts_and_dashboard_use_only_metrics_the_service_exposes(
    service: Service, workspace: Path
) -> None:
    """Every series the alert rules and the Grafana dashboard query is in a real scrape (a
    renamed metric would leave an alert that can never fire)."""
    JobRunner(service.engine, service.settings, metrics=service.metrics.record_job_run,
              observed=service.metrics).run("sync")
    names = set()
    for family in _families(service):
        names |= {family + suffix for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    deploy = ROOT / "deploy" / "prometheus"
    rules = yaml.safe_load((deploy / "alerts.yml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((deploy / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs
            for name in re.findall(r"\b(?:syndicate|process|python)_[a-z_]+\b", expr)}
    assert len(used) >= 15
    assert used <= names, sorted(used - names)


def test_a_sync_keeps_counts_not_megabytes_and_logs_a_change_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A new language with thousands of untranslated answers: the summary keeps the counts
    and the first of each list; the same problems at the next sync log nothing again."""
    from syndicate.answers import Incomplete
    from syndicate.service.jobs import KEPT, _content_summary
    from syndicate.sync import SyncResult

    refused = tuple(Incomplete(f"a{i:05}", "fr", ("line 3: 'x': missing",) * 5)
                    for i in range(KEPT * 10))
    errors = tuple(f"content/x{i}.md:2: reviewed: impossible date" for i in range(KEPT + 5))
    result = SyncResult(None, (), 0, errors=errors, refused=refused)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="syndicate.jobs")
    first = _content_summary("run_1", result, {})
    assert first["refused_counts"] == {"fr": KEPT * 10}
    assert len(first["refused"]["fr"]) == KEPT
    assert all(len(item["reasons"]) == 3 for item in first["refused"]["fr"])
    assert first["problem_counts"] == {"errors": KEPT + 5, "warnings": 0}
    assert len(first["problems"]["errors"]) == KEPT
    assert len(json.dumps(first)) < 200_000
    logged = len(caplog.records)
    assert logged == KEPT + 5  # each error once
    second = _content_summary("run_2", result, first)
    assert second["problems_digest"] == first["problems_digest"]
    assert len(caplog.records) == logged  # nothing new, nothing logged


def test_status_names_a_stale_answer_by_id_and_file(service: Service, workspace: Path) -> None:
    """A stale translation is listed as ``id (file)``, the name `i18n status` and `i18n check`
    use, so an operator can hand it to a translator as it is."""
    runner = JobRunner(service.engine, service.settings)
    assert runner.run("sync").outcome == "ok"
    source = workspace / "content" / "lupus" / "what-causes-lupus.md"
    text = source.read_text(encoding="utf-8")
    text = text.replace("reviewed: 2026-04-06", "reviewed: 2026-04-07").replace(
        "is not fully understood", "is not yet fully understood (test fixture edit)")
    source.write_text(text, encoding="utf-8")
    assert runner.run("sync").outcome == "ok"
    code, output = _cli(service, workspace, "status")
    assert code == 0, output
    stale = output.split("stale translations:", 1)[1]
    assert "75da64d16c9fcccc (lupus/what-causes-lupus.md)" in stale, output
