"""The HTTP transport webhooks are sent with: httpx's transport API over plain asyncio.

Why not httpx's default transport: httpcore's pool does work quadratic in its connections on
every request, and measured here a webhook fan-out through it is several times slower than
the receivers (see ``docs/benchmarks-delivery.md``). Why not aiohttp under httpx: it works, but
costs twice the CPU per request of this transport. A webhook request is the simplest HTTP there
is (one POST with a small body, HTTP/1.1, keep-alive), so this module does exactly that:

- every request is guarded: the host is resolved and checked by
  :mod:`syndicate.webhooks.netguard` and the connection goes to the address that was checked
  (no DNS rebinding), while the ``Host`` header and TLS SNI keep the host name;
- redirects are never followed (the caller sees the 3xx);
- the response body is read up to ``max_response_bytes``; beyond that the connection is closed;
- every request asks for ``Accept-Encoding: identity``; an answer encoded anyway (``gzip``,
  ``deflate``, stacked or not) is unpacked here to at most ``max_response_bytes`` and handed
  back without its ``Content-Encoding``, so nobody downstream (httpx's decoders included)
  unpacks more: a 661-byte answer that unpacks to 300 MB costs 64 KiB, not 300 MB; other
  encodings (``br``, ``zstd``...) are not unpacked at all (the body is handed back empty);
- the whole exchange is bounded by a timeout;
- idle connections are kept per (address, port, host name) and reused.

It is an :class:`httpx.AsyncBaseTransport`: the delivery worker speaks httpx's request and
response types, and tests may inject :class:`httpx.MockTransport` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import zlib
from collections.abc import Sequence

import httpx

from ..config import Settings
from ..errors import DeliveryError, UnsafeURLError
from . import netguard

_PoolKey = tuple[str, str, int, str]


class _Connection:
    """One open HTTP/1.1 connection."""

    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _Reused(DeliveryError):
    """A reused keep-alive connection failed before any response byte: retry on a new one."""


class PinnedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio, connecting only to checked addresses (see the module doc)."""

    bounds_time = True
    """Every exchange, name resolution included, ends within the request's timeout (raising
    :class:`httpx.TimeoutException`): callers need no timer of their own."""

    def __init__(
        self,
        *,
        allow_networks: Sequence[str] = (),
        timeout: float = 15.0,
        max_response_bytes: int = 64 * 1024,
        max_idle_per_host: int = 16,
        keepalive_expiry: float = 30.0,
        dns_ttl: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        resolver: netguard.Resolver | None = None,
        dns_timeout: float = netguard.DEFAULT_DNS_TIMEOUT,
    ) -> None:
        self.allow = netguard.parse_networks(allow_networks)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.max_idle_per_host = max_idle_per_host
        self.keepalive_expiry = keepalive_expiry
        self.dns_ttl = dns_ttl
        self._ssl_context = ssl_context
        self.resolver = resolver
        self.dns_timeout = dns_timeout
        self._idle: dict[_PoolKey, list[_Connection]] = {}
        self._resolved: dict[tuple[str, int], tuple[float, tuple[netguard.IPAddress, ...]]] = {}
        self._targets: dict[tuple[str, str, int | None], netguard.Target] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, resolver: netguard.Resolver | None = None
    ) -> PinnedTransport:
        """The transport a deployment sends with: its allow-list, its receivers' time, its
        name resolution (the system's unless ``resolver`` is given) and its timeout."""
        return cls(allow_networks=settings.webhook_allow_networks,
                   timeout=settings.webhook_timeout, resolver=resolver,
                   dns_timeout=settings.dns_timeout)

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context, created once on first use (loading CA certificates is slow)."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def _addresses(self, target: netguard.Target) -> tuple[netguard.IPAddress, ...]:
        """The checked addresses of a target; literal ones are checked once, names are
        resolved again after ``dns_ttl``."""
        key = (target.host, target.port)
        now = time.monotonic()
        cached = self._resolved.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if target.literal is not None:
            addresses = netguard.check_addresses(target.host, [target.literal], self.allow)
            expires = float("inf")
        else:
            addresses = await netguard.resolve_async(
                target, self.allow, resolver=self.resolver, timeout=self.dns_timeout)
            expires = now + self.dns_ttl
        if len(self._resolved) >= 10_000:
            self._resolved.clear()
        self._resolved[key] = (expires, addresses)
        return addresses

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to a checked address; the response body is already read."""
        url = request.url
        origin = (url.scheme, url.host, url.port)
        target = self._targets.get(origin)
        if target is None:
            target = netguard.parse_target(str(url))
            if len(self._targets) < 10_000:
                self._targets[origin] = target
        timeout = _timeout(request, self.timeout)
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._addresses(target)
                try:
                    return await self._exchange(request, target, addresses, reuse=True)
                except _Reused:
                    return await self._exchange(request, target, addresses, reuse=False)
        except TimeoutError as exc:
            raise httpx.TimeoutException(
                f"no complete answer within {timeout:g} s", request=request
            ) from exc

    async def _exchange(
        self,
        request: httpx.Request,
        target: netguard.Target,
        addresses: tuple[netguard.IPAddress, ...],
        *,
        reuse: bool,
    ) -> httpx.Response:
        key: _PoolKey = (target.scheme, str(addresses[0]), target.port, target.host)
        connection = self._take_idle(key) if reuse else None
        reused = connection is not None
        if connection is None:
            connection = await self._connect(request, target, addresses)
        received = False
        try:
            connection.writer.write(_serialize(request))
            try:
                head = await connection.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                if reused and not getattr(exc, "partial", b""):
                    raise _Reused("the reused connection closed") from exc
                raise
            received = True
            status, reason, headers = _parse_head(head)
            while 100 <= status < 200:
                head = await connection.reader.readuntil(b"\r\n\r\n")
                status, reason, headers = _parse_head(head)
            body, reusable = await self._read_body(connection.reader, headers, status)
        except _Reused:
            connection.close()
            raise
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            connection.close()
            what = "reading the answer" if received else "sending the request"
            raise httpx.ReadError(f"connection lost {what}: {exc!r}", request=request) from exc
        except ValueError as exc:
            connection.close()
            raise httpx.RemoteProtocolError(f"invalid HTTP answer: {exc}", request=request) from exc
        except BaseException:
            connection.close()
            raise
        if reusable and not _wants_close(headers):
            self._put_idle(key, connection)
        else:
            connection.close()
        headers, body = _bounded_decode(headers, body, self.max_response_bytes)
        # The body is in memory already; like any httpx transport, it is handed back as the
        # response's stream, for the caller to read (or not: the worker reads only the
        # answers to verification challenges).
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def _connect(
        self,
        request: httpx.Request,
        target: netguard.Target,
        addresses: tuple[netguard.IPAddress, ...],
    ) -> _Connection:
        tls = target.scheme == "https"
        error: Exception | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    str(address),
                    target.port,
                    ssl=self.ssl_context if tls else None,
                    server_hostname=target.host if tls else None,
                    limit=64 * 1024,
                )
            except (OSError, ssl.SSLError) as exc:
                error = exc
                continue
            return _Connection(reader, writer)
        raise httpx.ConnectError(
            f"cannot connect to {target.host}:{target.port}: {error}", request=request
        ) from error

    async def _read_body(
        self, reader: asyncio.StreamReader, headers: list[tuple[bytes, bytes]], status: int
    ) -> tuple[bytes, bool]:
        """The body (at most ``max_response_bytes``) and whether the connection is reusable."""
        if status in (204, 304):
            return b"", True
        limit = self.max_response_bytes
        values = {name.lower(): value for name, value in headers}
        if b"chunked" in values.get(b"transfer-encoding", b"").lower():
            return await _read_chunked(reader, limit)
        if b"content-length" in values:
            length = int(values[b"content-length"])
            if length < 0:
                raise ValueError("negative Content-Length")
            if length > limit:
                return await reader.readexactly(limit), False
            return await reader.readexactly(length), True
        return await reader.read(limit), False

    def _take_idle(self, key: _PoolKey) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.reader.at_eof() or now - connection.idle_since > self.keepalive_expiry:
                connection.close()
                continue
            return connection
        return None

    def _put_idle(self, key: _PoolKey, connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self.max_idle_per_host:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def aclose(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _timeout(request: httpx.Request, default: float) -> float:
    configured = request.extensions.get("timeout")
    if isinstance(configured, dict):
        values = [v for v in configured.values() if isinstance(v, int | float)]
        if values:
            return float(max(values))
    return default


def _serialize(request: httpx.Request) -> bytes:
    try:
        body = request.content
    except httpx.RequestNotRead as exc:  # pragma: no cover - webhooks have bytes bodies
        raise UnsafeURLError("streaming request bodies are not supported") from exc
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines.extend(b"%s: %s" % (name, value) for name, value in request.headers.raw
                 if name.lower() != b"accept-encoding")
    lines.append(b"accept-encoding: identity")
    if b"content-length" not in (name.lower() for name, _ in request.headers.raw):
        lines.append(b"content-length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _parse_head(head: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else b""
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"bad header line {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    if parts[0] == b"HTTP/1.0":
        headers.append((b"connection", b"close"))  # no keep-alive with HTTP/1.0 peers
    return status, reason, headers


def _wants_close(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"connection" and b"close" in value.lower() for name, value in headers
    )


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return bytes(body), True
        if len(body) + size > limit:
            body.extend(await reader.readexactly(limit - len(body)))
            return bytes(body), False
        body.extend(await reader.readexactly(size))
        await reader.readexactly(2)


MAX_ENCODING_LAYERS = 3
"""More stacked encodings than this is no honest answer: the body is dropped."""


def _bounded_decode(
    headers: list[tuple[bytes, bytes]], body: bytes, limit: int
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The answer without its ``Content-Encoding``: ``gzip``/``deflate`` layers unpacked to at
    most ``limit`` bytes each (the result cut at ``limit``), any other encoding dropped (an
    empty body). Nothing ever unpacks more than ``limit`` bytes per layer."""
    codings = [
        coding.strip().lower()
        for name, value in headers if name.lower() == b"content-encoding"
        for coding in value.split(b",") if coding.strip()
    ]
    if not codings:
        return headers, body
    kept = [(name, value) for name, value in headers
            if name.lower() not in (b"content-encoding", b"content-length")]
    layers = [coding for coding in codings if coding != b"identity"]
    if len(layers) > MAX_ENCODING_LAYERS:
        return kept, b""
    for coding in reversed(layers):
        if coding in (b"gzip", b"x-gzip"):
            body = _inflate(body, zlib.MAX_WBITS | 16, limit)
        elif coding == b"deflate":
            wbits = zlib.MAX_WBITS if body[:1] and body[0] & 0x0F == 8 else -zlib.MAX_WBITS
            body = _inflate(body, wbits, limit)
        else:
            return kept, b""
    return kept, body[:limit]


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """At most ``limit`` bytes of ``data`` unpacked; what does not unpack gives nothing."""
    try:
        return zlib.decompressobj(wbits).decompress(data, limit)
    except zlib.error:
        return b""
