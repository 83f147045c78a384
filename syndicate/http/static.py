"""HTTP: serve the publication tree with the manifest's cache semantics.

The static side is a bare ASGI application, because it is the hot path partners poll: no
framework, no per-request file system work beyond one cheap ``stat`` of the manifest at most
every :data:`RELOAD_INTERVAL`. Files are read once, kept in memory with their gzip variant and
prebuilt headers, and answered with a strong ``ETag`` (SHA-256 of the bytes actually served,
so a file replaced between the manifest and the read is never described wrongly),
``Last-Modified`` (when the file's bytes last changed, recorded by the build in the
manifest), the preconditions of RFC 9110 section 13 in its order (``If-Match``,
``If-Unmodified-Since``, ``If-None-Match``, ``If-Modified-Since``), ``Link`` headers for the
hub and self, and cache headers. A wrong method on a published file is answered 405 with
``Allow``; a missing page or feed is answered 404 in the format its path asks for.

Only paths listed in the manifest are served: never a hidden state file, never a temporary
file being written, never anything outside the tree.
"""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..publication import MANIFEST, MEDIA_TYPES, hub_url, site_url

RELOAD_INTERVAL = 0.5
"""Seconds between two checks of the manifest for a new build."""
CACHE_CONTROL = b"public, max-age=60, stale-while-revalidate=300"
COMPRESSIBLE = ("text/", "application/atom+xml", "application/rss+xml", "application/feed+json",
                "application/json", "text/x-opml", "application/xml")
FEED_TYPES = tuple(MEDIA_TYPES.values())
_MIN_GZIP = 256


@dataclasses.dataclass(frozen=True, slots=True)
class Variant:
    """One representation of a file: its bytes and the headers that describe them."""

    body: bytes
    etag: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    not_modified: tuple[tuple[bytes, bytes], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class StaticFile:
    """A published file ready to serve: identity and (when worth it) gzip variants."""

    path: str
    last_modified: float
    """Seconds since the epoch, from the manifest (compared with ``If-Modified-Since``)."""
    identity: Variant
    gzipped: Variant | None
    status: int = 200
    """410 for a withdrawn answer's page, 301 for a page its answer moved away from."""


def _etag_matches(header: bytes, etags: tuple[bytes, ...]) -> bytes | None:
    """The entity tag of ``etags`` that ``If-None-Match`` lists (weak comparison), if any."""
    value = header.strip()
    if value == b"*":
        return etags[0]
    for candidate in value.split(b","):
        tag = candidate.strip()
        if tag.startswith(b"W/"):
            tag = tag[2:]
        for etag in etags:
            if tag == etag:
                return etag
    return None


def accepts_gzip(header: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value admits gzip (``q=0`` refuses it)."""
    for part in header.lower().split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip() in {b"gzip", b"*"}:
            params = params.strip()
            if params.startswith(b"q="):
                try:
                    return float(params[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


class PublicationTree:
    """The files of ``out_dir`` as its ``manifest.json`` lists them, cached in memory."""

    def __init__(
        self, out_dir: Path, base_url: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.out_dir = out_dir
        self.base_url = site_url(base_url)
        self.hub_url = hub_url(base_url)
        self.clock = clock
        self._records: dict[str, dict[str, Any]] = {}
        self._files: dict[str, StaticFile] = {}
        self._manifest_stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")

    def _refresh(self) -> None:
        now = self.clock()
        if now - self._checked < RELOAD_INTERVAL:
            return
        self._checked = now
        manifest = self.out_dir / MANIFEST
        try:
            stat = manifest.stat()
        except OSError:
            self._records, self._files, self._manifest_stamp = {}, {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        if stamp == self._manifest_stamp:
            return
        try:
            data = json.loads(manifest.read_bytes())
            records = dict(data.get("files", {}))
        except (OSError, ValueError):
            return  # keep serving what we had; the next build rewrites the manifest
        self._manifest_stamp = stamp
        self._files = {
            path: cached
            for path, cached in self._files.items()
            if path in records and records[path] == self._records.get(path)
        }
        self._records = records

    def get(self, path: str) -> StaticFile | None:
        """The file at ``path`` (relative, no leading slash), if the manifest lists it."""
        self._refresh()
        cached = self._files.get(path)
        if cached is not None:
            return cached
        record = self._records.get(path)
        if record is None:
            return None
        try:
            body = (self.out_dir / path).read_bytes()
        except OSError:
            return None
        cached = self._prepare(path, record, body)
        self._files[path] = cached
        return cached

    def _prepare(self, path: str, record: dict[str, Any], body: bytes) -> StaticFile:
        content_type = str(record.get("content_type", "application/octet-stream"))
        parsed = email.utils.parsedate_to_datetime(str(record.get("last_modified")))
        last_modified = parsed.timestamp()
        digest = hashlib.sha256(body).hexdigest()
        common: list[tuple[bytes, bytes]] = [
            (b"last-modified", str(record.get("last_modified")).encode("latin-1")),
            (b"cache-control", CACHE_CONTROL),
        ]
        status = int(record.get("status", 200))
        location = record.get("location")
        if status == 301 and isinstance(location, str):
            common.append((b"location", location.encode("utf-8")))
        if content_type.startswith(FEED_TYPES):
            self_url = f"{self.base_url}/{path}"
            link = f'<{self.hub_url}>; rel="hub", <{self_url}>; rel="self"'
            common.append((b"link", link.encode("utf-8")))
        full_type = content_type
        if content_type.startswith(("text/", "application/")) and "charset" not in content_type:
            full_type = f"{content_type}; charset=utf-8"
        compressible = content_type.startswith(COMPRESSIBLE) and len(body) >= _MIN_GZIP
        if compressible:
            common.append((b"vary", b"Accept-Encoding"))

        def variant(data: bytes, etag: str, encoding: bytes | None) -> Variant:
            tag = etag.encode("ascii")
            shared = [(b"etag", tag), *common]
            headers = [(b"content-type", full_type.encode("utf-8")), *shared,
                       (b"content-length", str(len(data)).encode("ascii"))]
            if encoding:
                headers.append((b"content-encoding", encoding))
            return Variant(data, tag, tuple(headers), tuple(shared))

        identity = variant(body, f'"{digest}"', None)
        gzipped = None
        if compressible:
            packed = gzip.compress(body, compresslevel=6, mtime=0)
            if len(packed) < len(body):
                gzipped = variant(packed, f'"{digest}-gzip"', b"gzip")
        return StaticFile(path, last_modified, identity, gzipped, status)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def resolve_path(raw: str) -> str | None:
    """The manifest key for a request path, or ``None`` if it tries to leave the tree."""
    if "\x00" in raw or "\\" in raw or "//" in raw:
        return None
    parts = raw.split("/")
    if any(part in {".", ".."} or part.startswith(".") for part in parts if part):
        return None
    path = raw.lstrip("/")
    if not path or path.endswith("/"):
        path += "index.html"
    return path


class StaticApp:
    """ASGI app serving a :class:`PublicationTree`; anything else goes to ``fallback``."""

    def __init__(self, tree: PublicationTree, fallback: ASGIApp | None = None,
                 *, wall: Callable[[], float] = time.time, mounted: Sequence[str] = ()) -> None:
        self.tree = tree
        self.fallback = fallback
        self.mounted = tuple(prefix.rstrip("/") + "/" for prefix in mounted)
        """Path prefixes of apps mounted beside the API (the console): theirs whole, never
        the tree's (its 404 page would answer ``/console/`` as a missing ``index.html``)."""
        self.wall = wall
        """The wall clock (seconds since the epoch) for Last-Modified and date checks."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self.fallback is not None:
                await self.fallback(scope, receive, send)
            return
        if self.fallback is not None and scope["path"].startswith(self.mounted or ("\0",)):
            await self.fallback(scope, receive, send)
            return
        method = scope["method"]
        path = resolve_path(scope["path"])
        found = self.tree.get(path) if path is not None else None
        if found is not None and method not in {"GET", "HEAD"}:
            await _plain(send, 405, b"method not allowed: use GET or HEAD\n",
                         ((b"allow", b"GET, HEAD"),))
            return
        if found is None:
            await self._absent(scope, receive, send, path)
            return
        encoding = _header(scope, b"accept-encoding")
        chosen = found.gzipped if found.gzipped and encoding and accepts_gzip(encoding) else None
        chosen = chosen or found.identity
        now = self.wall()
        # Preconditions apply only to what would be a 2xx (RFC 9110 13.2.1): a withdrawn
        # page answers 410, a moved one 301, whatever the request's validators.
        status = evaluate_preconditions(scope, found, chosen, now) if found.status == 200 \
            else found.status
        if status == 412:
            await _plain(send, 412, b"precondition failed\n", _dated(chosen.not_modified,
                                                                     found, now))
            return
        headers = _dated(chosen.not_modified if status == 304 else chosen.headers, found, now)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        body = chosen.body if status != 304 and method != "HEAD" else b""
        await send({"type": "http.response.body", "body": body})

    async def _absent(self, scope: Scope, receive: Receive, send: Send, path: str | None
                      ) -> None:
        """A path the tree does not hold: a page or feed 404 in its format, else the API."""
        method = scope["method"]
        missing = _missing(path) if method in {"GET", "HEAD"} else None
        if missing is None and self.fallback is not None:
            await self.fallback(scope, receive, send)
        elif missing is None:
            await _plain(send, 404 if method in {"GET", "HEAD"} else 405, b"not found\n")
        else:
            content_type, body = missing
            await _plain(send, 404, b"" if method == "HEAD" else body, (), content_type)


def _dated(headers: tuple[tuple[bytes, bytes], ...], found: StaticFile, now: float
           ) -> tuple[tuple[bytes, bytes], ...]:
    """``headers`` with Last-Modified no later than ``now`` (RFC 9110 8.8.2.1: a value
    recorded a second ahead, for two changes within one second, is sent as the current time
    until that second has passed; preconditions still compare the recorded value)."""
    if found.last_modified <= now:
        return headers
    stamp = email.utils.formatdate(now, usegmt=True).encode("latin-1")
    return tuple((name, stamp if name == b"last-modified" else value) for name, value in headers)


def _http_date(value: bytes) -> float | None:
    """An HTTP-date as seconds since the epoch; ``None`` when it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError, UnicodeDecodeError):
        return None
    if parsed.tzinfo is None:
        return None  # "-0000": not an HTTP-date (those are GMT)
    return parsed.timestamp()


def evaluate_preconditions(scope: Scope, found: StaticFile, chosen: Variant, now: float) -> int:
    """200, 304 or 412 for a GET or HEAD of ``found`` (RFC 9110 13.2.2, in its order).

    Entity tags compare strongly for ``If-Match`` and weakly for ``If-None-Match``, against
    the representation that would be sent. A date that is not a valid HTTP-date, or is later
    than the server's clock, is ignored; so is ``If-Unmodified-Since`` when ``If-Match`` is
    present and ``If-Modified-Since`` when ``If-None-Match`` is."""
    if_match = _header(scope, b"if-match")
    if if_match is not None:
        tags = tuple(t.strip() for t in if_match.split(b","))
        if b"*" not in tags and chosen.etag not in tags:
            return 412
    else:
        since = _header(scope, b"if-unmodified-since")
        stamp = _http_date(since) if since is not None else None
        if stamp is not None and found.last_modified > stamp:
            return 412
    if_none_match = _header(scope, b"if-none-match")
    if if_none_match is not None:
        return 304 if _etag_matches(if_none_match, (chosen.etag,)) is not None else 200
    since = _header(scope, b"if-modified-since")
    stamp = _http_date(since) if since is not None else None
    if stamp is None or stamp > now:
        return 200
    return 304 if found.last_modified <= stamp else 200


_XML_404 = (b'<?xml version="1.0" encoding="utf-8"?>\n'
            b"<error><status>404</status><message>no such feed</message></error>\n")
_HTML_404 = (b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
             b'<meta name="viewport" content="width=device-width, initial-scale=1">'
             b"<title>Not found</title></head><body><main><h1>Not found</h1>"
             b'<p>There is no page here. <a href="/">All languages</a></p></main></body>'
             b"</html>\n")


def _missing(path: str | None) -> tuple[bytes, bytes] | None:
    """The 404 for a page or feed path that is not published, in the format the path asks
    for (a JSON path is left to the API, which answers JSON); ``None`` for anything else."""
    if path is None:
        return None
    if path.endswith(".html"):
        return b"text/html; charset=utf-8", _HTML_404
    if path.endswith((".atom", ".rss", ".opml", ".xml")):
        return b"application/xml; charset=utf-8", _XML_404
    return None


async def _plain(send: Send, status: int, body: bytes,
                 extra: tuple[tuple[bytes, bytes], ...] = (),
                 content_type: bytes = b"text/plain; charset=utf-8") -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [*(item for item in extra if item[0] not in {b"content-length",
                                                                  b"content-type"}),
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode("ascii"))],
    })
    await send({"type": "http.response.body", "body": body})
