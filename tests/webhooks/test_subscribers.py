"""Subscribers: ids that are not ids are refused, and secrets never leak.

A webhook secret is shown exactly once, by ``subscribers add`` and ``rotate-secret``. Nothing
else (listings, deliveries, errors, log records at any level, reprs) may carry it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from syndicate.cli import cli
from syndicate.errors import StoreError
from syndicate.testing import Receiver, Reply
from syndicate.webhooks import subscribers as subs
from syndicate.webhooks.queue import Claim
from tests.support import ANSWER_FILE, service_env, set_front_matter

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
HOSTILE_IDS = [
    "../sub_0123456789abcdef", "sub_0123456789abcdef/../x", "/etc/passwd", "sub_0123456789abcde\x00",
    "sub_0123456789abcdef\n", "sub_..\\..\\x", "sub_\u2024\u2024", "SUB_0123456789ABCDEF", "",
    "sub_0123456789abcdef' OR '1'='1",
]
"""Strings in the place of a subscriber id: parent steps, absolute paths, NUL, newlines,
backslashes, look-alike dots, SQL."""


@pytest.mark.parametrize("subscriber_id", HOSTILE_IDS)
def test_strings_that_are_not_subscriber_ids_are_refused_clearly(
    engine: sa.engine.Engine, subscriber_id: str
) -> None:
    """Lookups say "not a subscriber id" (and reach no row) for anything but ``sub_`` + hex."""
    with Receiver() as receiver:
        real = subs.add(engine, receiver.url(), now=NOW, allow_networks=["127.0.0.0/8"])
    assert subs.SUBSCRIBER_ID.fullmatch(real.id)
    assert subs.get(engine, subscriber_id) is None
    with pytest.raises(StoreError, match="is not a subscriber id"):
        subs.require(engine, subscriber_id)
    with pytest.raises(StoreError, match="is not a subscriber id"):
        subs.set_status(engine, subscriber_id, "paused", now=NOW, reason=None)
    with pytest.raises(StoreError, match="is not a subscriber id"):
        subs.rotate_secret(engine, subscriber_id, now=NOW)
    with pytest.raises(StoreError, match="is not a subscriber id"):
        subs.remove(engine, subscriber_id)
    assert [s.id for s in subs.list_all(engine)] == [real.id]


@pytest.mark.parametrize("command", ["show", "pause", "resume", "remove", "rotate-secret"])
def test_cli_refuses_a_hostile_subscriber_id_without_a_traceback(
    database_url: str, workspace: Path, command: str
) -> None:
    env = service_env(workspace, database_url)
    result = CliRunner().invoke(cli, ["subscribers", command, "../sub_0123456789abcdef"], env=env)
    assert result.exit_code == 1
    assert "is not a subscriber id" in result.output
    assert not isinstance(result.exception, StoreError)


def test_secrets_never_appear_in_logs_output_or_errors(
    database_url: str, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """add, list, show, sync, deliver (with failures), deliveries, pause, resume and
    rotate-secret, with every logger at DEBUG: the only places a secret is printed are the
    one-time answers of ``add`` and ``rotate-secret``."""
    caplog.set_level(logging.DEBUG)
    env = service_env(workspace, database_url)
    runner = CliRunner()
    leaks: list[str] = []

    def run(*args: str, shows_secret: bool = False) -> str:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        if not shows_secret:
            leaks.append(result.output)
        return result.output

    with Receiver() as receiver:
        added = json.loads(run("subscribers", "add", receiver.url(), "--json", shows_secret=True))
        sid, first = added["id"], added["secret"]
        second = subs.new_secret()
        # A subscriber given its own secret, then one that fails: errors get recorded.
        receiver.program("/failing", default=Reply(status=500, body=b"boom"))
        other = json.loads(run("subscribers", "add", receiver.url("/failing"), "--secret", second,
                               "--no-verify", "--json", shows_secret=True))
        run("sync")
        run("deliver", "--until-idle")
        set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-01")
        run("sync")
        third = run("subscribers", "rotate-secret", sid, shows_secret=True).strip()
        run("deliver", "--until-idle")
        run("subscribers", "list")
        run("subscribers", "list", "--json")
        run("subscribers", "show", sid)
        run("subscribers", "show", other["id"])
        run("subscribers", "pause", sid)
        run("subscribers", "resume", sid)
        listed = json.loads(run("deliveries", "list", "--json"))
        run("deliveries", "list")
        run("deliveries", "list", "--state", "pending", "--subscriber", other["id"])
        for delivery in listed:
            run("deliveries", "show", str(delivery["id"]))
        run("deliveries", "replay", "--since", "2000-01-01")
        run("deliver", "--until-idle")
        # A malformed secret is refused without being repeated back.
        bad = "whsec_" + "A" * 10 + "!!"
        refused = runner.invoke(cli, ["subscribers", "add", receiver.url(), "--secret", bad],
                                env=env)
        assert refused.exit_code != 0
        leaks.append(refused.output + str(refused.exception or ""))
    assert any(d["last_error"] or d["last_status"] == 500 for d in listed)
    assert {first, second, third} <= _stored_secrets(database_url)
    for secret in (first, second, third, bad):
        body = secret.removeprefix("whsec_")
        for text in [*leaks, caplog.text, *(r.getMessage() for r in caplog.records)]:
            assert body not in text, f"secret leaked into: {text[:300]!r}"


def _stored_secrets(database_url: str) -> set[str | None]:
    """Every current and previous secret in the store."""
    from syndicate import store

    engine = store.open_engine(database_url)
    try:
        return {key for s in subs.list_all(engine) for key in (s.secret, s.previous_secret)}
    finally:
        engine.dispose()


def test_reprs_and_dicts_never_carry_secrets() -> None:
    """A subscriber or a claimed job that ends up in a log line or a traceback shows no secret."""
    secret, previous = subs.new_secret(), subs.new_secret()
    subscriber = subs.Subscriber(
        id="sub_0123456789abcdef", url="https://partner.example/hook", languages=(),
        conditions=(), event_types=(), full=False, status="active", created_at=NOW,
        secret=secret, previous_secret=previous,
    )
    job = Claim(delivery_id=1, event_id="msg_1", event_type="answer.published",
                subscriber_id=subscriber.id, url=subscriber.url, secrets=(secret, previous),
                body=b"{}", attempt=1)
    for text in (repr(subscriber), str(subscriber), json.dumps(subscriber.to_dict(), default=str),
                 repr(job), str(job)):
        assert secret not in text and previous not in text
        assert "whsec_" not in text
