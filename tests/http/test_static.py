"""Serving the publication tree over real HTTP on 127.0.0.1: ETags, 304s, gzip, safety."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import httpx
import pytest

from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.http.static import PublicationTree, StaticApp, accepts_gzip, resolve_path
from syndicate.publication import publish
from syndicate.testing import serve_asgi


@pytest.fixture
def built(settings: Settings) -> Settings:
    publish(settings, localize_corpus(settings))
    return settings


@pytest.fixture
def base(built: Settings) -> str:
    app = StaticApp(PublicationTree(built.out_dir, built.base_url))
    with serve_asgi(app) as url:
        yield url  # type: ignore[misc]


def test_feed_is_served_then_revalidated_with_304(base: str, built: Settings) -> None:
    with httpx.Client(base_url=base) as client:
        first = client.get("/es/feed.atom", headers={"accept-encoding": "identity"})
        assert first.status_code == 200
        body = (built.out_dir / "es" / "feed.atom").read_bytes()
        assert first.content == body
        assert first.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        assert first.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert first.headers["last-modified"].endswith("GMT")
        assert 'rel="hub"' in first.headers["link"] and 'rel="self"' in first.headers["link"]
        assert "max-age" in first.headers["cache-control"]
        again = client.get("/es/feed.atom", headers={
            "if-none-match": first.headers["etag"], "accept-encoding": "identity"})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == first.headers["etag"]


def test_if_none_match_wins_over_if_modified_since(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        first = client.get("/en/feed.json")
        stale = client.get("/en/feed.json", headers={
            "if-none-match": '"something-else"',
            "if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"})
        assert stale.status_code == 200
        fresh = client.get("/en/feed.json", headers={
            "if-modified-since": first.headers["last-modified"]})
        assert fresh.status_code == 304


def test_gzip_variant_has_its_own_etag(base: str, built: Settings) -> None:
    with httpx.Client(base_url=base) as client:
        raw = client.get("/ar/feed.rss", headers={"accept-encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.headers["etag"].endswith('-gzip"')
        assert raw.headers["content-type"] == "application/rss+xml; charset=utf-8"
        assert raw.content == (built.out_dir / "ar" / "feed.rss").read_bytes()  # httpx decodes
        assert raw.headers["vary"] == "Accept-Encoding"
        identity_tag = client.get("/ar/feed.rss", headers={"accept-encoding": "identity"}).headers["etag"]
        # The identity ETag does not validate the gzip representation.
        assert client.get("/ar/feed.rss", headers={
            "accept-encoding": "gzip", "if-none-match": identity_tag}).status_code == 200


def test_index_head_and_content_types(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        index = client.get("/")
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        head = client.head("/fr/feed.json", headers={"accept-encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == "application/feed+json; charset=utf-8"
        assert int(head.headers["content-length"]) > 0


@pytest.mark.parametrize("path", [
    "/.syndicate-state.json", "/../pyproject.toml", "/es/../../etc/passwd", "/%2e%2e/x",
    "/nope.atom", "/es//feed.atom",
])
def test_hidden_missing_and_escaping_paths_are_404(base: str, path: str) -> None:
    with httpx.Client(base_url=base) as client:
        assert client.get(path).status_code == 404


def test_a_new_build_is_served_after_the_manifest_changes(built: Settings, tmp_path: Path) -> None:
    now = [0.0]
    tree = PublicationTree(built.out_dir, built.base_url, clock=lambda: now[0])
    before = tree.get("en/feed.atom")
    assert before is not None
    manifest = built.out_dir / "manifest.json"
    target = built.out_dir / "en" / "feed.atom"
    target.write_bytes(target.read_bytes().replace(b"What causes", b"What really causes"))
    manifest.write_bytes(manifest.read_bytes().replace(b'"version"', b'"version"', 1) + b" ")
    now[0] += 1.0
    after = tree.get("en/feed.atom")
    assert after is not None
    # The manifest record did not change, so the cached bytes are still what is served...
    assert after.identity.etag == before.identity.etag
    # ...until the manifest lists the new file.
    replacement = tmp_path / "manifest.json"
    replacement.write_text(manifest.read_text().replace(before.identity.etag.decode().strip('"'), "changed"))
    replacement.replace(manifest)  # as the publisher does: a new file renamed into place
    now[0] += 1.0
    changed = tree.get("en/feed.atom")
    assert changed is not None and b"What really causes" in changed.identity.body
    assert changed.identity.etag == f'"{hashlib.sha256(target.read_bytes()).hexdigest()}"'.encode()


def test_accept_encoding_parsing() -> None:
    assert accepts_gzip(b"gzip, deflate, br")
    assert accepts_gzip(b"br;q=1.0, gzip;q=0.5")
    assert not accepts_gzip(b"gzip;q=0")
    assert not accepts_gzip(b"identity")
    assert accepts_gzip(b"*")


def test_resolve_path_refuses_escapes() -> None:
    assert resolve_path("/es/feed.atom") == "es/feed.atom"
    assert resolve_path("/es/") == "es/index.html"
    assert resolve_path("/") == "index.html"
    for bad in ["/../x", "/a/../b", "/.hidden", "/a\x00b", "/a\\b", "//x"]:
        assert resolve_path(bad) is None


def test_gzip_body_is_deterministic(built: Settings) -> None:
    tree = PublicationTree(built.out_dir, built.base_url)
    one = tree.get("es/feed.atom")
    two = PublicationTree(built.out_dir, built.base_url).get("es/feed.atom")
    assert one and two and one.gzipped and two.gzipped
    assert one.gzipped.body == two.gzipped.body
    assert gzip.decompress(one.gzipped.body) == one.identity.body
