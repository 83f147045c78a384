"""Operators issue, list and revoke partner API tokens from the CLI; only hashes are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from syndicate import store
from syndicate.cli import cli
from syndicate.http import tokens


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"SYNDICATE_DATABASE_URL": database_url, "SYNDICATE_STATE_DIR": str(tmp_path)}


def _run(env: dict[str, str], *args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_issue_list_revoke(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    token, note = _run(env, "tokens", "issue", "partner-a")
    token = token.strip()
    assert token.startswith("syn_") and "shown once" in note
    listed = json.loads(_run(env, "tokens", "list", "--json")[0])
    assert [(t["partner"], t["revoked_at"]) for t in listed] == [("partner-a", None)]
    table, _ = _run(env, "tokens", "list")
    assert token not in table and token not in json.dumps(listed)

    engine = store.open_engine(database_url)
    try:
        assert tokens.authenticate(engine, token) is not None
        with engine.connect() as conn:
            stored = conn.execute(sa.select(store.api_tokens)).all()
        assert token not in repr(stored)
        out, _ = _run(env, "tokens", "revoke", listed[0]["id"])
        assert "revoked" in out
        assert tokens.authenticate(engine, token) is None
    finally:
        engine.dispose()


def test_bad_partner_and_unknown_token_are_clear_errors(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    bad = CliRunner().invoke(cli, ["tokens", "issue", "Partner A"], env=env)
    assert bad.exit_code == 1 and "not a partner name" in bad.output
    unknown = CliRunner().invoke(cli, ["tokens", "revoke", "000000000000"], env=env)
    assert unknown.exit_code == 1 and "no API token" in unknown.output


@pytest.mark.parametrize("candidate", ["", "syn_", "Bearer x", "syn_zz_" + "a" * 43,
                                        "syn_000000000000_" + "a" * 43])
def test_malformed_and_unknown_tokens_do_not_authenticate(
    tmp_path: Path, candidate: str
) -> None:
    engine = store.open_engine(f"sqlite:///{tmp_path}/s.db")
    try:
        assert tokens.authenticate(engine, candidate) is None
    finally:
        engine.dispose()
