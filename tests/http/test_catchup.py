"""Catching up: the changes log by cursor, the published answers, and a re-reviewed answer
reaching the served feed, the changes log and a webhook after one sync."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from syndicate.http import catchup
from syndicate.testing import Receiver
from syndicate.webhooks.delivery import deliver_until_idle
from tests.support import (
    ANSWER_FILE,
    Service,
    parse_feed,
    set_front_matter,
    verification_queued,
    write_complete_catalog,
)

CHANGES = "/api/v1/changes"


def _rereview(service: Service, day: str) -> None:
    workspace = service.settings.content_dir.parent
    set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", day)
    service.sync()


def _all_pages(client: httpx.Client, limit: int, **params: str) -> tuple[list[str], str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = dict(params, limit=str(limit), **({"since": cursor} if cursor else {}))
        page = client.get(CHANGES, params=query).json()
        seen += [change["id"] for change in page["changes"]]
        cursor = page["next"]
        if not page["has_more"]:
            return seen, cursor


def test_changes_pages_are_stable_and_resume_after_the_cursor(service: Service) -> None:
    """Paging one by one gives what one big page gives, in order; new events come after the
    last cursor; an idle cursor stays put."""
    with service.client(service.token("partner-a")) as client:
        everything = client.get(CHANGES).json()
        assert [c["type"] for c in everything["changes"]] == ["answer.published"] * 2
        ids, cursor = _all_pages(client, 1)
        assert ids == [c["id"] for c in everything["changes"]]
        idle = client.get(CHANGES, params={"since": cursor}).json()
        assert idle == {"changes": [], "next": cursor, "has_more": False}

        _rereview(service, "2026-06-01")
        _rereview(service, "2026-06-02")
        fresh = client.get(CHANGES, params={"since": cursor}).json()
        assert [(c["type"], c["data"]["reviewed"]) for c in fresh["changes"]] == [
            ("answer.reviewed", "2026-06-01")] * 2 + [("answer.reviewed", "2026-06-02")] * 2
        again, _ = _all_pages(client, 3)
        assert again == ids + [c["id"] for c in fresh["changes"]]
        # Each change's cursor resumes right after it.
        middle = fresh["changes"][1]["cursor"]
        rest = client.get(CHANGES, params={"since": middle}).json()["changes"]
        assert [c["id"] for c in rest] == [c["id"] for c in fresh["changes"][2:]]


def test_changes_are_filtered_by_language_condition_and_type(service: Service) -> None:
    _rereview(service, "2026-06-01")
    with service.client(service.token("partner-a")) as client:
        german = client.get(CHANGES, params={"language": "de"}).json()["changes"]
        assert [(c["language"], c["type"]) for c in german] == [
            ("de", "answer.published"), ("de", "answer.reviewed")]
        reviewed = client.get(CHANGES, params={"type": "answer.reviewed"}).json()["changes"]
        assert {c["language"] for c in reviewed} == {"de", "en"}
        assert client.get(CHANGES, params={"condition": "lupus"}).json()["changes"]
        assert client.get(CHANGES, params={"condition": "asthma"}).json()["changes"] == []
        ids, _ = _all_pages(client, 1, language="de")
        assert ids == [c["id"] for c in german]


@pytest.mark.parametrize("params", [
    {"since": "not-a-cursor"}, {"since": "YzE6"}, {"since": "x" * 100}, {"limit": "0"},
    {"limit": "1001"}, {"limit": "ten"}, {"type": "endpoint.verify"}, {"language": "../x"},
    {"cursor": "YzE6MQ"},
])
def test_bad_changes_queries_are_400(service: Service, params: dict[str, str]) -> None:
    with service.client(service.token("partner-a")) as client:
        response = client.get(CHANGES, params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {
        "invalid_cursor", "invalid_parameter", "unknown_parameter"}


def test_cursors_round_trip_and_refuse_foreign_ones() -> None:
    assert catchup.decode_cursor(catchup.encode_cursor(42)) == 42
    for bad in ["", "YzE6LTE", "YzI6MQ", "%%%", "YzE6" + "OTk5" * 10]:
        with pytest.raises(catchup.CursorError):
            catchup.decode_cursor(bad)


def test_answers_lists_published_answers_with_review_dates_and_urls(service: Service) -> None:
    with service.client(service.token("partner-a")) as client:
        german = client.get("/api/v1/answers", params={"language": "de"}).json()["answers"]
        every = client.get("/api/v1/answers").json()["answers"]
        assert client.get("/api/v1/answers").status_code == 200
    assert [a["language"] for a in every] == ["de", "en"]
    (answer,) = german
    assert answer["answer_id"] == "75da64d16c9fcccc"
    assert answer["reviewed"] == "2026-04-06" and answer["stale"] is False
    assert answer["url"].startswith("https://")
    assert answer["feeds"]["atom"] == "https://answers.example/de/feed.atom"
    with httpx.Client(base_url=service.url) as anonymous:
        assert anonymous.get("/api/v1/answers").status_code == 401


def test_rereviewed_answer_reaches_the_feed_the_changes_and_a_webhook_after_one_sync(
    service: Service,
) -> None:
    """content/ re-reviewed, one sync: the served feed (new ETag), the changes log and a
    signed answer.reviewed webhook all carry the new review date."""
    with Receiver() as receiver, service.client(service.token("partner-a")) as client:
        created = client.post("/api/v1/subscriptions",
                              json={"url": receiver.url(), "languages": ["de"]}).json()
        verification_queued(service.engine, created["subscription"]["id"])
        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        before = client.get("/de/feed.atom", headers={"accept-encoding": "identity"})
        cursor = client.get(CHANGES).json()["next"]

        _rereview(service, "2026-06-01")
        revalidated = client.get("/de/feed.atom", headers={
            "if-none-match": before.headers["etag"], "accept-encoding": "identity"})
        for _ in range(20):  # the static app re-reads the manifest every half second
            if revalidated.status_code == 200:
                break
            asyncio.run(asyncio.sleep(0.1))
            revalidated = client.get("/de/feed.atom", headers={
                "if-none-match": before.headers["etag"], "accept-encoding": "identity"})
        assert revalidated.status_code == 200
        assert revalidated.headers["etag"] != before.headers["etag"]
        assert b"2026-06-01" in revalidated.content and b"2026-06-01" not in before.content

        changes = client.get(CHANGES, params={"since": cursor, "language": "de"}).json()
        assert [(c["type"], c["data"]["reviewed"]) for c in changes["changes"]] == [
            ("answer.reviewed", "2026-06-01")]

        asyncio.run(deliver_until_idle(service.engine, service.settings, clock=service.clock))
        hook = Webhook(created["secret"])
        reviewed = [hook.verify(r.body, r.headers) for r in receiver.requests()]
        reviewed = [p for p in reviewed if p["type"] == "answer.reviewed"]
    assert [(p["data"]["language"], p["data"]["reviewed"]) for p in reviewed] == [
        ("de", "2026-06-01")]
    assert reviewed[0]["data"]["answer_id"] == changes["changes"][0]["answer_id"]


def test_published_is_when_the_entry_first_appeared_in_feeds_and_api_alike(
    service: Service,
) -> None:
    """A Dutch catalog saved days ago (its header date) first reaches the feeds at the
    sync: every format and the API say the sync's time, never the header's; a later change
    keeps the date."""
    locales = service.settings.locales_dir
    path = write_complete_catalog(locales, "nl")
    text = path.read_text("utf-8")
    old = "2026-01-02 03:04+0000"
    path.write_text(re.sub(r'"PO-Revision-Date: [^\\"]*', f'"PO-Revision-Date: {old}', text),
                    "utf-8")
    appeared = service.clock.advance(3600)
    service.sync()
    expected = appeared.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = service.settings.out_dir

    def dates() -> dict[str, set[str]]:
        atom = parse_feed((out / "nl" / "feed.atom").read_bytes())
        rss = parse_feed((out / "nl" / "feed.rss").read_bytes())
        items = json.loads((out / "nl" / "feed.json").read_bytes())["items"]
        with service.client(service.token("partner-a")) as client:
            api = client.get("/api/v1/answers", params={"language": "nl"}).json()["answers"]
        as_z = time.strftime
        return {
            "atom": {as_z("%Y-%m-%dT%H:%M:%SZ", e.published_parsed) for e in atom.entries},
            "rss": {as_z("%Y-%m-%dT%H:%M:%SZ", e.published_parsed) for e in rss.entries},
            "json": {item["date_published"] for item in items},
            "api": {answer["first_published"] for answer in api},
        }

    assert dates() == {"atom": {expected}, "rss": {expected}, "json": {expected},
                       "api": {expected}}
    service.clock.advance(3600)
    _rereview(service, "2026-06-01")
    assert dates()["json"] == {expected} and dates()["api"] == {expected}
