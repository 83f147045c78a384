"""The WebSub hub over real HTTP: verification of intent, leases, signed content distribution
through the durable outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import time

import httpx
import pytest
import sqlalchemy as sa

from syndicate.store import deliveries, subscribers
from syndicate.testing import Receiver, Reply
from syndicate.webhooks import websub
from syndicate.webhooks.delivery import deliver_until_idle
from tests.support import ANSWER_FILE, Service, set_front_matter

TOPIC = "https://answers.example/de/feed.atom"


def _hub(service: Service, **fields: str) -> httpx.Response:
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, **fields}
    return httpx.post(f"{service.url}/websub", data=form, timeout=10)


def _websub_rows(service: Service) -> list[sa.Row[tuple[object, ...]]]:
    s = subscribers.c
    with service.engine.connect() as conn:
        return list(conn.execute(
            sa.select(s.id, s.url, s.topic, s.status, s.secret, s.lease_expires_at)
            .where(s.kind == "websub")
        ).all())


def _wait(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_a_wrong_challenge_echo_is_not_activated(service: Service) -> None:
    """The callback answers 200 with something else than the challenge: nothing is stored."""
    with Receiver() as receiver:
        receiver.program("/cb", Reply(body=b"sure, whatever"))
        response = _hub(service, **{"hub.callback": receiver.url("/cb")})
        assert response.status_code == 202
        assert receiver.wait_for(1, "/cb")
        time.sleep(0.3)  # the verification's outcome is applied after the GET returns
    check = receiver.requests("/cb")[0]
    assert check.method == "GET"
    assert check.query["hub.mode"] == "subscribe" and check.query["hub.topic"] == TOPIC
    assert check.query["hub.challenge"]
    assert _websub_rows(service) == []


def test_subscribe_then_content_is_distributed_signed(service: Service) -> None:
    """Right echo: active with a lease; a re-reviewed answer rewrites the feed, whose new body
    is POSTed with a valid X-Hub-Signature through the outbox."""
    secret = "a shared secret of some length"
    with Receiver() as receiver:
        response = _hub(service, **{"hub.callback": receiver.url("/cb?partner=1"),
                                    "hub.secret": secret, "hub.lease_seconds": "3600"})
        assert response.status_code == 202
        assert _wait(lambda: bool(_websub_rows(service)))
        (row,) = _websub_rows(service)
        assert (row.topic, row.status, row.url) == (TOPIC, "active", receiver.url("/cb?partner=1"))
        assert receiver.requests("/cb")[0].query["partner"] == "1"
        assert receiver.requests("/cb")[0].query["hub.lease_seconds"] == "3600"

        workspace = service.settings.content_dir.parent
        set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-01")
        service.sync()
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        posts = [r for r in receiver.requests("/cb") if r.method == "POST"]
    assert len(posts) == 1
    (post,) = posts
    feed = (service.settings.out_dir / "de" / "feed.atom").read_bytes()
    assert post.body == feed and b"2026-06-01" in feed
    expected = "sha256=" + hmac.new(secret.encode(), feed, hashlib.sha256).hexdigest()
    assert post.headers["x-hub-signature"] == expected
    assert post.headers["content-type"].startswith("application/atom+xml")
    assert f'<{TOPIC}>; rel="self"' in post.headers["link"]
    assert '<https://answers.example/websub>; rel="hub"' in post.headers["link"]


def test_failed_distribution_is_retried_from_the_outbox(service: Service) -> None:
    """A callback answering 500 keeps its delivery pending with the next attempt scheduled."""
    with Receiver() as receiver:
        _hub(service, **{"hub.callback": receiver.url("/cb")})
        assert _wait(lambda: bool(_websub_rows(service)))
        receiver.program("/cb", Reply(500), default=Reply(200))
        workspace = service.settings.content_dir.parent
        set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-02")
        service.sync()
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        with service.engine.connect() as conn:
            state = conn.execute(sa.select(deliveries.c.state, deliveries.c.attempts)
                                 .where(deliveries.c.event_type == websub.CONTENT_EVENT)).one()
        assert tuple(state) == ("pending", 1)
        service.clock.advance(60)
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        posts = [r for r in receiver.requests("/cb") if r.method == "POST"]
    assert len(posts) == 2 and posts[0].body == posts[1].body
    assert "x-hub-signature" not in posts[0].headers  # no hub.secret given


def test_unsubscribe_is_verified_then_removes_the_subscription(service: Service) -> None:
    with Receiver() as receiver:
        _hub(service, **{"hub.callback": receiver.url("/cb")})
        assert _wait(lambda: bool(_websub_rows(service)))
        response = _hub(service, **{"hub.mode": "unsubscribe", "hub.callback": receiver.url("/cb")})
        assert response.status_code == 202
        assert _wait(lambda: not _websub_rows(service))
        assert receiver.requests("/cb")[-1].query["hub.mode"] == "unsubscribe"


def test_expired_leases_receive_nothing_and_are_removed(service: Service) -> None:
    with Receiver() as receiver:
        _hub(service, **{"hub.callback": receiver.url("/cb"), "hub.lease_seconds": "1"})
        assert _wait(lambda: bool(_websub_rows(service)))
        (row,) = _websub_rows(service)
        # Clamped up to the minimum lease.
        assert row.lease_expires_at == service.clock() + dt.timedelta(seconds=websub.MIN_LEASE)
        service.clock.advance(websub.MIN_LEASE + 1)
        workspace = service.settings.content_dir.parent
        set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-03")
        service.sync()
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        assert [r for r in receiver.requests("/cb") if r.method == "POST"] == []
    assert _websub_rows(service) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"hub.topic": "https://elsewhere.example/feed.atom", "hub.callback": "https://p.example/"},
     "hub.topic"),
    ({"hub.mode": "publish", "hub.callback": "https://p.example/"}, "hub.mode"),
    ({}, "hub.callback"),
    ({"hub.callback": "http://169.254.169.254/"}, "globally routable"),
    ({"hub.callback": "ftp://p.example/"}, "http"),
    ({"hub.callback": "https://p.example/", "hub.lease_seconds": "-5"}, "lease"),
    ({"hub.callback": "https://p.example/", "hub.secret": "x" * 200}, "secret"),
])
def test_bad_hub_requests_are_refused_with_400(
    service: Service, fields: dict[str, str], message: str
) -> None:
    before = service.counts()
    response = _hub(service, **fields)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_hub_request"
    assert message in response.json()["error"]["message"]
    assert service.counts() == before


def test_hub_wants_a_form_of_bounded_size(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        wrong = client.post("/websub", json={"hub.mode": "subscribe"})
        assert wrong.status_code == 415
        big = client.post("/websub", content=b"hub.mode=" + b"x" * 70_000,
                          headers={"content-type": "application/x-www-form-urlencoded"})
        assert big.status_code == 413


def test_websub_subscribers_never_receive_answer_webhooks(service: Service) -> None:
    """A WebSub subscription matches no answer event: it only gets its feed bodies."""
    with Receiver() as receiver:
        _hub(service, **{"hub.callback": receiver.url("/cb")})
        assert _wait(lambda: bool(_websub_rows(service)))
        workspace = service.settings.content_dir.parent
        set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-04")
        service.sync()
    with service.engine.connect() as conn:
        types = set(conn.execute(sa.select(deliveries.c.event_type)).scalars())
    assert types == {websub.CONTENT_EVENT}
