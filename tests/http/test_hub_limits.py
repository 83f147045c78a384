"""The open WebSub hub is bounded, over real HTTP on 127.0.0.1: rates per client address and
per callback host (429 + Retry-After), caps on subscriptions (403), a bounded queue of
verifications (503), name resolution through an injected resolver with a timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from syndicate.store import subscribers
from syndicate.testing import Receiver
from tests.support import Service, hook_settings, start_service

TOPIC = "https://answers.example/de/feed.atom"


def _service(workspace: Path, database_url: str, resolver: Any = None,
             **overrides: object) -> Iterator[Service]:
    settings = hook_settings(workspace, database_url, **overrides)
    yield from start_service(settings, resolver=resolver)


def _hub(service: Service, callback: str, client: str = "198.51.100.1",
         mode: str = "subscribe") -> httpx.Response:
    """A hub request as if from ``client`` (uvicorn trusts X-Forwarded-For from loopback,
    as behind the shipped nginx)."""
    form = {"hub.mode": mode, "hub.topic": TOPIC, "hub.callback": callback}
    return httpx.post(f"{service.url}/websub", data=form, timeout=10,
                      headers={"x-forwarded-for": client})


def _websub_count(service: Service) -> int:
    s = subscribers.c
    with service.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(s.kind == "websub"))
                   .scalar_one())


def _wait(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_one_client_address_is_rate_limited(workspace: Path, database_url: str) -> None:
    """Before: 1,004 anonymous requests from one address were all answered 202."""
    for service in _service(workspace, database_url, websub_rate_burst=3,
                            websub_rate_limit=0.01):
        answers = [_hub(service, f"http://127.0.0.1:9/cb{i}").status_code for i in range(5)]
        assert answers[:3] == [202, 202, 202]
        limited = _hub(service, "http://127.0.0.1:9/cb9")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        assert _hub(service, "http://127.0.0.2:9/cb", client="198.51.100.2").status_code == 202


def test_one_callback_host_is_rate_limited(workspace: Path, database_url: str) -> None:
    """Many addresses naming one callback host are limited together."""
    for service in _service(workspace, database_url, websub_rate_burst=3,
                            websub_rate_limit=0.01):
        answers = [_hub(service, f"http://127.0.0.1:9/cb{i}", client=f"198.51.100.{i}")
                   .status_code for i in range(1, 6)]
        assert answers == [202, 202, 202, 429, 429]


async def _loopback(host: str, port: int) -> list[str]:
    """Every name is 127.0.0.1 (no DNS is ever asked)."""
    return ["127.0.0.1"]


def test_subscriptions_are_capped_per_host_and_in_total(workspace: Path,
                                                        database_url: str) -> None:
    for service in _service(workspace, database_url, resolver=_loopback,
                            websub_max_per_host=2, websub_max_subscriptions=3):
        with Receiver() as receiver:
            port = receiver.ports[0]
            for path in ("/a", "/b"):
                assert _hub(service, f"http://one.test:{port}{path}").status_code == 202
            assert _wait(lambda: _websub_count(service) == 2)  # noqa: B023
            refused = _hub(service, f"http://one.test:{port}/c")
            assert refused.status_code == 403
            assert "callback host" in refused.json()["error"]["message"]
            assert _hub(service, f"http://two.test:{port}/d").status_code == 202
            assert _wait(lambda: _websub_count(service) == 3)  # noqa: B023
            refused = _hub(service, f"http://three.test:{port}/e")
            assert refused.status_code == 403
            assert "maximum of 3" in refused.json()["error"]["message"]
        assert _websub_count(service) == 3


def test_verifications_wait_in_a_bounded_queue(workspace: Path, database_url: str) -> None:
    """A callback name whose DNS hangs holds one verifier; the queue behind it is bounded
    (503 + Retry-After), and the partner API keeps answering meanwhile."""
    release = asyncio.Event()
    asked: list[str] = []

    async def hanging(host: str, port: int) -> list[str]:
        asked.append(host)
        await release.wait()
        return ["127.0.0.1"]

    for service in _service(workspace, database_url, resolver=hanging,
                            websub_verify_concurrency=1, websub_verify_queue=2,
                            dns_timeout=30.0, api_rate_burst=1000):
        answers = [_hub(service, f"http://slow{i}.test/cb", client=f"198.51.100.{i}")
                   .status_code for i in range(1, 6)]
        # One is being verified (its name resolving), two wait, the rest are refused.
        assert answers == [202, 202, 202, 503, 503]
        assert asked == ["slow1.test"]
        busy = _hub(service, "http://slow9.test/cb", client="198.51.100.9")
        assert busy.headers["retry-after"] == "30"
        with service.client(service.token("partner-a")) as client:
            assert client.get("/api/v1/subscriptions").status_code == 200


def test_a_slow_name_times_out_and_is_never_stored(workspace: Path,
                                                   database_url: str) -> None:
    """The injected resolver never answers: after ``dns_timeout`` the verification gives up
    (nothing stored) and the next queued request is verified."""
    asked: list[str] = []

    async def never(host: str, port: int) -> list[str]:
        asked.append(host)
        await asyncio.sleep(3600)
        return []

    for service in _service(workspace, database_url, resolver=never, dns_timeout=0.2,
                            websub_verify_concurrency=1):
        assert _hub(service, "http://slow1.test/cb").status_code == 202
        assert _hub(service, "http://slow2.test/cb").status_code == 202
        assert _wait(lambda: len(asked) == 2)
        assert _websub_count(service) == 0


@pytest.mark.parametrize("value", ["²", "1" * 5000, "٣٠٠"])
def test_odd_lease_numbers_are_400(service: Service, value: str) -> None:
    """Before: ``hub.lease_seconds=²`` passed ``isdigit`` and ``int`` raised: a 500."""
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": "http://127.0.0.1:9/",
            "hub.lease_seconds": value}
    response = httpx.post(f"{service.url}/websub", data=form, timeout=10)
    assert response.status_code == 400
    assert "lease_seconds" in response.json()["error"]["message"]


@pytest.mark.parametrize("fields", [
    {"hub.secret": "abc\x00def"},
    {"hub.callback": "http://127.0.0.1:9/a\x00b"},
    {"hub.callback": "http://127.0.0.1:9/a b"},
    {"hub.callback": "http://127.0.0.1:9/a\r\nX-Evil: 1"},
    {"hub.callback": "http://127.0.0.1:9/a\x7f"},
])
def test_control_characters_in_hub_fields_are_400(service: Service,
                                                  fields: dict[str, str]) -> None:
    """Before: NUL in ``hub.secret`` or ``hub.callback`` was answered 202, then the store
    refused it in the background (PostgreSQL: DataError)."""
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": "http://127.0.0.1:9/",
            **fields}
    before = service.counts()
    response = httpx.post(f"{service.url}/websub", data=form, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_hub_request"
    assert service.counts() == before
