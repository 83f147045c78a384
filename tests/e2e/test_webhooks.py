"""End to end: the CLI, a content change, a real receiver, a worker killed with -9."""

from __future__ import annotations

import collections
import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook

from syndicate import store
from syndicate.cli import cli
from syndicate.testing import Receiver, Reply
from syndicate.webhooks import subscribers as subs
from tests.support import ANSWER_FILE, service_env, set_front_matter


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_review_date_change_reaches_the_subscriber_in_each_published_language(
    database_url: str, workspace: Path
) -> None:
    """content/ re-reviewed -> sync -> deliver: one signed answer.reviewed per language,
    verified with the standardwebhooks package."""
    env = service_env(workspace, database_url)
    with Receiver() as receiver:
        added = json.loads(_run(env, "subscribers", "add", receiver.url(), "--json"))
        assert added["status"] == "active"  # the receiver echoed the challenge
        _run(env, "sync")
        _run(env, "deliver", "--until-idle")
        set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-01")
        assert "2 answer.reviewed" in _run(env, "sync")
        assert "2 delivered" in _run(env, "deliver", "--until-idle")

        webhook = Webhook(added["secret"])
        reviewed = []
        for request in receiver.requests():
            payload = webhook.verify(request.body, request.headers)
            if payload["type"] == "answer.reviewed":
                reviewed.append(payload["data"])
        assert sorted(d["language"] for d in reviewed) == ["de", "en"]
        for data in reviewed:
            assert (data["reviewed"], data["previous_reviewed"]) == ("2026-06-01", "2026-04-06")
            assert data["answer_id"] == "75da64d16c9fcccc"
            assert data["feeds"]["atom"].startswith("https://answers.example/")

        listing = json.loads(_run(env, "deliveries", "list", "--json"))
        assert {d["state"] for d in listing} == {"delivered"}
        assert len(listing) == 5  # verify + 2 published + 2 reviewed


def test_cli_subscriber_lifecycle(database_url: str, workspace: Path) -> None:
    """add prints the id; list, show, pause, resume, rotate-secret and remove work."""
    env = service_env(workspace, database_url)
    with Receiver() as receiver:
        sid = _run(env, "subscribers", "add", receiver.url(), "--language", "de",
                   "--event", "answer.reviewed").strip()
        assert sid.startswith("sub_")
        assert sid in _run(env, "subscribers", "list")
        listed = json.loads(_run(env, "subscribers", "list", "--json"))
        assert listed[0]["languages"] == ["de"] and "secret" not in listed[0]
        assert json.loads(_run(env, "subscribers", "show", sid))["status"] == "active"
        assert "paused" in _run(env, "subscribers", "pause", sid)
        assert "active" in _run(env, "subscribers", "resume", sid)
        assert _run(env, "subscribers", "rotate-secret", sid).startswith("whsec_")
        assert "removed" in _run(env, "subscribers", "remove", sid)
        assert json.loads(_run(env, "subscribers", "list", "--json")) == []


def test_cli_refuses_unsafe_urls(database_url: str, workspace: Path) -> None:
    """Registration refuses a URL the SSRF guard rejects, with a clear message."""
    env = service_env(workspace, database_url, webhook_allow_networks="")
    result = CliRunner().invoke(cli, ["subscribers", "add", "http://0x7f.1/hook"], env=env)
    assert result.exit_code == 1
    assert "not a globally routable address" in result.output


def test_cli_deliveries_show_retry_replay(database_url: str, workspace: Path) -> None:
    """Operators see every attempt and can send again."""
    env = service_env(workspace, database_url)
    with Receiver() as receiver:
        _run(env, "subscribers", "add", receiver.url(), "--language", "en")
        _run(env, "sync")
        _run(env, "deliver", "--until-idle")
        (delivery,) = [d for d in json.loads(_run(env, "deliveries", "list", "--json"))
                       if d["event_type"] == "answer.published"]
        shown = json.loads(_run(env, "deliveries", "show", str(delivery["id"])))
        assert shown["attempt_log"][0]["status"] == 200
        assert "0 deliveries due again" in _run(env, "deliveries", "retry", str(delivery["id"]))
        assert "2 deliveries due again" in _run(env, "deliveries", "replay", "--since",
                                                "2000-01-01")
        _run(env, "deliver", "--until-idle")
        ids = collections.Counter(r.webhook_id for r in receiver.requests())
        assert ids[delivery["event_id"]] == 2


def test_db_upgrade_command(database_url: str, workspace: Path) -> None:
    """``syndicate db upgrade`` creates the schema and says at which revision."""
    env = service_env(workspace, database_url)
    assert store.head_revision() in _run(env, "db", "upgrade")


@pytest.mark.slow
def test_killed_worker_loses_nothing_and_duplicates_keep_their_id(
    database_url: str, workspace: Path
) -> None:
    """kill -9 mid-batch, restart: every delivery made; repeats carry the same webhook-id
    and the same body."""
    env = service_env(workspace, database_url, webhook_timeout="1",
                                  delivery_lease="2",
                                  delivery_concurrency="6",
                                  subscriber_concurrency="1")
    engine = store.open_engine(database_url)
    now = dt.datetime.now(dt.UTC)
    with Receiver() as receiver:
        for index in range(60):
            path = f"/s{index}"
            receiver.program(path, default=Reply(200, delay=0.05))
            subs.add(engine, receiver.url(path), now=now, allow_networks=["127.0.0.0/8"])
        with engine.begin() as conn:
            conn.execute(store.deliveries.delete())
            conn.execute(store.events.delete())
            conn.execute(store.subscribers.update().values(status="active", verified_at=now))
        _run(env, "sync")
        with engine.connect() as conn:
            expected = {
                (url.removeprefix(receiver.url("")), event_id)
                for url, event_id in conn.execute(
                    sa.select(store.subscribers.c.url, store.deliveries.c.event_id)
                    .join(store.subscribers,
                          store.subscribers.c.id == store.deliveries.c.subscriber_id))
            }
        assert len(expected) == 120

        command = [sys.executable, "-m", "syndicate", "deliver", "--until-idle"]
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        assert receiver.wait_for(30, timeout=30)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        before = len(receiver.requests())
        assert before < 120, "the worker finished before it could be killed"

        time.sleep(2.2)  # the killed worker's leases expire
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

        got = receiver.requests()
        assert {(r.path, r.webhook_id) for r in got} == expected
        bodies: dict[tuple[str, str], set[bytes]] = collections.defaultdict(set)
        for request in got:
            bodies[(request.path, request.webhook_id)].add(request.body)
        assert all(len(found) == 1 for found in bodies.values())
        with engine.connect() as conn:
            states = set(conn.execute(sa.select(store.deliveries.c.state)).scalars())
        assert states == {"delivered"}
    engine.dispose()
