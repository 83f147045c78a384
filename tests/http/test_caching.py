"""HTTP caching as partners poll: Last-Modified recorded when bytes change, RFC 9110
preconditions, and pollers (If-Modified-Since only, feedparser's etag/modified) across
publications that add an old-dated answer and a newly translated one."""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from babel.messages.pofile import read_po, write_po

from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.http.static import PublicationTree, StaticApp
from syndicate.publication import publish, read_manifest
from syndicate.testing import serve_asgi

POLLED = ("en/feed.atom", "en/feed.json", "en/feed.rss", "en/lupus/feed.atom",
          "ar/feed.atom", "ar/feed.rss", "ar/lupus/feed.json", "en/index.html", "index.html")
START = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
"""The publications happen in the past hour, so no Last-Modified is ahead of the clock."""


def _publish(settings: Settings, minutes: int) -> None:
    publish(settings, localize_corpus(settings), now=START + dt.timedelta(minutes=minutes))


def _add_old_dated_answer(settings: Settings) -> None:
    source = settings.content_dir / "lupus" / "is-lupus-contagious.md"
    source.with_name("old-news.md").write_text(
        source.read_text("utf-8").replace("1a2b3c4d5e6f7002", "1a2b3c4d5e6f7009")
        .replace("reviewed: 2026-04-06", "reviewed: 2025-01-01")
        .replace("is-lupus-contagious", "old-news"), "utf-8")


def _translate_it(settings: Settings) -> None:
    """The Arabic catalog gains the new answer (the fixture's own Arabic text, copied)."""
    path = settings.locales_dir / "ar" / "LC_MESSAGES" / "syndicate.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    for message in list(catalog):
        if message.context == "1a2b3c4d5e6f7002":
            catalog.add(message.id, message.string, context="1a2b3c4d5e6f7009")
    with path.open("wb") as handle:
        write_po(handle, catalog)


@pytest.fixture
def served(feed_settings: Settings) -> Iterator[str]:
    _publish(feed_settings, 0)
    ticks = itertools.count()
    tree = PublicationTree(feed_settings.out_dir, feed_settings.base_url,
                           clock=lambda: float(next(ticks)))  # re-read the manifest every time
    with serve_asgi(StaticApp(tree)) as url:
        yield url


class Poller:
    """A client that revalidates with one validator only, keeping what it downloaded."""

    def __init__(self, base: str, header: str) -> None:
        self.client = httpx.Client(base_url=base, headers={"accept-encoding": "identity"})
        self.header = header
        self.copies: dict[str, tuple[str, bytes]] = {}

    def poll(self) -> dict[str, int]:
        statuses = {}
        for path in POLLED:
            held = self.copies.get(path)
            headers = {self.header: held[0]} if held else {}
            response = self.client.get(f"/{path}", headers=headers)
            statuses[path] = response.status_code
            if response.status_code == 200:
                key = "last-modified" if self.header == "if-modified-since" else "etag"
                self.copies[path] = (response.headers[key], response.content)
        return statuses


def _changed(out: Path, before: dict[str, bytes]) -> set[str]:
    return {path for path in POLLED if (out / path).read_bytes() != before[path]}


@pytest.mark.parametrize("header", ["if-modified-since", "if-none-match"])
def test_a_poller_sees_every_change_and_downloads_nothing_unchanged(
    served: str, feed_settings: Settings, header: str,
) -> None:
    out = feed_settings.out_dir
    poller = Poller(served, header)
    assert set(poller.poll().values()) == {200}
    assert set(poller.poll().values()) == {304}
    for minutes, change in ((1, _add_old_dated_answer), (2, _translate_it)):
        before = {path: (out / path).read_bytes() for path in POLLED}
        change(feed_settings)
        _publish(feed_settings, minutes)
        changed = _changed(out, before)
        assert changed, change.__name__
        statuses = poller.poll()
        assert {path for path, status in statuses.items() if status == 200} == changed
        assert all(statuses[path] == 304 for path in POLLED if path not in changed)
        for path in POLLED:
            assert poller.copies[path][1] == (out / path).read_bytes(), path
    assert "ar/feed.atom" in changed  # the translation reached the Arabic feed
    poller.client.close()


def test_feedparser_with_etag_and_modified_sees_each_new_entry(
    served: str, feed_settings: Settings,
) -> None:
    url = f"{served}/ar/lupus/feed.atom"
    first = feedparser.parse(url)
    assert first.status == 200 and len(first.entries) == 2
    modified_only = feedparser.parse(url, modified=first.modified)
    both = feedparser.parse(url, etag=first.etag, modified=first.modified)
    assert modified_only.status == 304 and both.status == 304
    _add_old_dated_answer(feed_settings)
    _publish(feed_settings, 1)
    assert feedparser.parse(url, etag=first.etag, modified=first.modified).status == 304
    _translate_it(feed_settings)
    _publish(feed_settings, 2)
    for etag in (None, first.etag):
        again = feedparser.parse(url, etag=etag, modified=first.modified)
        assert again.status == 200
        links = [entry.link for entry in again.entries]
        archive = [link.href for link in again.feed.links if link.rel == "prev-archive"]
        for href in archive:  # feed_size 2: one of three entries is in the archive
            links += [entry.link for entry in feedparser.parse(
                href.replace("https://feeds.example.org", served)).entries]
        assert "https://feeds.example.org/ar/lupus/old-news.html" in links
    assert feedparser.parse(url, etag=again.etag, modified=again.modified).status == 304


def _tree_with(out: Path, base_url: str, wall: float) -> StaticApp:
    return StaticApp(PublicationTree(out, base_url), wall=lambda: wall)


def test_preconditions_follow_rfc_9110(feed_settings: Settings) -> None:
    _publish(feed_settings, 0)
    record = read_manifest(feed_settings.out_dir)["en/feed.atom"]
    stamp = email.utils.parsedate_to_datetime(record.last_modified).timestamp()
    app = _tree_with(feed_settings.out_dir, feed_settings.base_url, time.time())
    with serve_asgi(app) as base, httpx.Client(base_url=base,
                                              headers={"accept-encoding": "identity"}) as client:
        def status(**headers: str) -> int:
            named = {name.replace("_", "-"): value for name, value in headers.items()}
            return client.get("/en/feed.atom", headers=named).status_code

        etag = record.etag
        earlier = email.utils.formatdate(stamp - 1, usegmt=True)
        future = email.utils.formatdate(time.time() + 86400, usegmt=True)
        assert status(if_modified_since=record.last_modified) == 304
        assert status(if_modified_since=earlier) == 200
        assert status(if_modified_since="yesterday") == 200  # not an HTTP-date: ignored
        assert status(if_modified_since=future) == 200  # later than the server's clock: ignored
        assert status(if_none_match='"other"', if_modified_since=record.last_modified) == 200
        assert status(if_none_match=f'"x", W/{etag}') == 304  # weak comparison
        assert status(if_match='"other"') == 412
        assert status(if_match=etag) == 200 and status(if_match="*") == 200
        assert status(if_unmodified_since=earlier) == 412
        assert status(if_match=etag, if_unmodified_since=earlier) == 200  # If-Match wins
        assert status(if_unmodified_since=record.last_modified) == 200
        head = client.head("/en/feed.atom", headers={"if-modified-since": record.last_modified})
        assert head.status_code == 304 and head.headers["etag"] == etag


def test_last_modified_ahead_of_the_clock_is_sent_as_now_but_compared_as_recorded(
    feed_settings: Settings,
) -> None:
    """Two changes within one second: the second file is recorded a second later (so the
    first one's date does not validate it) but never sent ahead of the server's clock."""
    _publish(feed_settings, 0)
    record = read_manifest(feed_settings.out_dir)["en/feed.atom"]
    stamp = email.utils.parsedate_to_datetime(record.last_modified).timestamp()
    app = _tree_with(feed_settings.out_dir, feed_settings.base_url, stamp - 1)
    with serve_asgi(app) as base, httpx.Client(base_url=base) as client:
        response = client.get("/en/feed.atom")
        sent = response.headers["last-modified"]
        assert email.utils.parsedate_to_datetime(sent).timestamp() == stamp - 1
        assert client.get("/en/feed.atom", headers={"if-modified-since": sent}).status_code == 200


def test_wrong_method_on_a_feed_is_405_and_missing_feeds_and_pages_404_in_their_format(
    feed_settings: Settings,
) -> None:
    _publish(feed_settings, 0)
    app = StaticApp(PublicationTree(feed_settings.out_dir, feed_settings.base_url))
    with serve_asgi(app) as base, httpx.Client(base_url=base) as client:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            response = client.request(method, "/en/feed.atom")
            assert response.status_code == 405, method
            assert response.headers["allow"] == "GET, HEAD"
        missing = client.get("/en/nope.atom")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/xml; charset=utf-8"
        assert missing.content.startswith(b"<?xml")
        page = client.get("/en/lupus/nope.html")
        assert page.status_code == 404
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert b"<!DOCTYPE html>" in page.content


def test_withdrawn_page_answers_410_and_a_moved_one_301(feed_settings: Settings) -> None:
    _publish(feed_settings, 0)
    content = feed_settings.content_dir
    moved = content / "lupus" / "what-causes-lupus.md"
    (content / "asthma" / "what-causes-lupus.md").write_text(
        moved.read_text("utf-8").replace("condition: Lupus", "condition: Asthma"), "utf-8")
    moved.unlink()
    withdrawn = content / "lupus" / "is-lupus-contagious.md"
    withdrawn.write_text(withdrawn.read_text("utf-8").replace("status: published",
                                                              "status: withdrawn"), "utf-8")
    _publish(feed_settings, 1)
    app = StaticApp(PublicationTree(feed_settings.out_dir, feed_settings.base_url))
    with serve_asgi(app) as base, httpx.Client(base_url=base) as client:
        gone = client.get("/ar/lupus/is-lupus-contagious.html")
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "text/html; charset=utf-8"
        assert "سحبت DiseaseMaps هذه الإجابة" in gone.text
        again = client.get("/ar/lupus/is-lupus-contagious.html",
                           headers={"if-none-match": gone.headers["etag"]})
        assert again.status_code == 410  # preconditions apply to 2xx answers only
        redirect = client.get("/en/lupus/what-causes-lupus.html")
        assert redirect.status_code == 301
        assert redirect.headers["location"] == \
            "https://feeds.example.org/en/asthma/what-causes-lupus.html"
        assert client.get("/en/asthma/what-causes-lupus.html").status_code == 200
