"""API tokens and webhook secrets never reach the logs, errors or metrics of a running service.

A real ``syndicate run`` (JSON logs) serves the API and delivers: a token is issued with the
CLI, a subscription created and its secret rotated over HTTP, a sync queues events that are
delivered (some attempts failing with 500), requests with a wrong and a malformed token are
refused, ``/metrics`` is scraped. Then every line the processes wrote, every error body and
the metrics text are searched for every secret value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from syndicate import store
from syndicate.testing import Receiver, Reply
from tests.support import (
    ANSWER_FILE,
    Proc,
    count,
    processes,
    service_env,
    set_front_matter,
    wait_until,
)

pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syndicate", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=True)


def test_tokens_and_webhook_secrets_never_appear_in_logs_errors_or_metrics(
    workspace: Path, tmp_path: Path
) -> None:
    """Grep every captured line, error body and metric for every secret; the token row
    holds a hash only."""
    database_url = f"sqlite:///{workspace / 'state' / 'syndicate.db'}"
    env = service_env(workspace, database_url, sync_interval=3600, deliver_interval=0.5)
    seen: list[str] = []  # everything a process printed or a client was answered
    with Receiver() as receiver, processes() as started:
        receiver.program("/hook", Reply(status=500), default=Reply())
        started.append(proc := Proc(["run", "--host", "127.0.0.1"], env, tmp_path, "run"))
        base = proc.url()
        issued = _cli(env, "tokens", "issue", "partner-a", "--json")
        token = json.loads(issued.stdout)["token"]
        seen.append(issued.stderr)  # the token itself is printed once on stdout, by design
        wrong = token[:-6] + "AAAAAA"
        secrets = [token, token.split("_", 2)[2], wrong.split("_", 2)[2]]
        auth = {"authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=10) as client:
            created = client.post("/api/v1/subscriptions", headers=auth,
                                  json={"url": receiver.url("/hook"), "languages": ["en"]})
            assert created.status_code == 201, created.text
            sub_id = created.json()["subscription"]["id"]
            secrets.append(created.json()["secret"])
            wait_until(lambda: client.get(f"/api/v1/subscriptions/{sub_id}", headers=auth)
                       .json()["subscription"]["status"] == "active", 60, "verification")
            rotated = client.post(f"/api/v1/subscriptions/{sub_id}/rotate-secret", headers=auth)
            assert rotated.status_code == 200
            secrets.append(rotated.json()["secret"])
            for headers in ({"authorization": f"Bearer {wrong}"},
                            {"authorization": f"Bearer {token}x"},
                            {"authorization": f"Basic {token}"}):
                refused = client.get("/api/v1/subscriptions", headers=headers)
                assert refused.status_code == 401
                seen.append(refused.text + json.dumps(dict(refused.headers)))
            set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-02")
            seen.append(_cli(env, "jobs", "run", "sync").stderr)
            engine = store.open_engine(database_url)
            try:
                wait_until(lambda: count(engine, store.deliveries,
                                         store.deliveries.c.state == "delivered") >= 1,
                           60, "a delivery after a failed attempt")
            finally:
                engine.dispose()
            for path in ("/metrics", f"/api/v1/subscriptions/{sub_id}/deliveries"):
                answered = client.get(path, headers=auth)
                assert answered.status_code == 200
                seen.append(answered.text)
            seen.append(client.get("/api/v1/subscriptions", headers=auth).text)
        assert proc.terminate() == 0
        seen += [proc.out.read_text(), proc.err.read_text()]
        assert len(receiver.requests("/hook")) >= 2  # a failed (500) and a good attempt
    logged = "\n".join(seen)
    assert '"subscription created"' in logged or "subscription created" in logged
    for secret in secrets:
        bare = secret.removeprefix("whsec_")
        assert bare not in logged, f"a secret ({secret[:8]}...) was written"
    engine = store.open_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = [repr(tuple(row)) for row in conn.execute(sa.select(store.api_tokens))]
        assert len(rows) == 1 and secrets[1] not in rows[0] and token not in rows[0]
    finally:
        engine.dispose()
