"""Review lifecycle over a live service: an overdue answer is announced once to the
subscribers that ask for it, and marked in its feeds and pages (it stays published)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from syndicate.testing import Receiver
from syndicate.webhooks.delivery import deliver_until_idle
from tests.support import ANSWER_FILE, Service, set_front_matter, verification_queued


def test_an_overdue_review_is_announced_once_and_marked_in_feeds_and_pages(
    service: Service,
) -> None:
    with Receiver(ports=2) as receiver, service.client(service.token("partner-a")) as client:
        asking = client.post("/api/v1/subscriptions", json={
            "url": receiver.url(index=0), "event_types": ["answer.review_overdue"]}).json()
        everything = client.post("/api/v1/subscriptions", json={
            "url": receiver.url(index=1)}).json()
        for created in (asking, everything):
            verification_queued(service.engine, created["subscription"]["id"])
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        due = (service.clock() - dt.timedelta(days=3)).date()
        set_front_matter(service.settings.content_dir / ANSWER_FILE, "review_due", due.isoformat())
        for _ in range(3):  # every sync sees it overdue; it is announced once
            service.sync()
            service.clock.advance(3600)
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        port = [receiver.ports[0], receiver.ports[1]]
        asked = [r.json() for r in receiver.requests() if r.port == port[0]]
        other = [r.json() for r in receiver.requests() if r.port == port[1]]
    overdue = [body for body in asked if body["type"] == "answer.review_overdue"]
    assert sorted(body["data"]["language"] for body in overdue) == ["de", "en"]
    assert all(body["data"]["due_date"] == due.isoformat() for body in overdue)
    assert [body["type"] for body in asked if body["type"] != "endpoint.verify"] == \
        ["answer.review_overdue"] * 2  # it asked for nothing else
    assert "answer.review_overdue" not in {body["type"] for body in other}
    out = service.settings.out_dir
    item = json.loads((out / "de" / "feed.json").read_bytes())["items"][0]
    assert item["_syndicate"]["overdue"] is True
    assert b"<review:overdue>true</review:overdue>" in (out / "de" / "feed.atom").read_bytes()
    page = (out / "de" / "lupus" / "what-causes-lupus.html").read_text("utf-8")
    # (The test's German catalog translates every message as itself.)
    assert 'class="notice overdue"' in page and "Review overdue" in page
