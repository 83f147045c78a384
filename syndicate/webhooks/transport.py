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
- answers are framed (status line, headers, ``Content-Length``, chunks, keep-alive) by
  httptools (llhttp, Node's parser, as uvicorn uses it), not by hand-written parsing; its C
  speed keeps the transport's cost per webhook where it was (h11, tried first, added
  half again);
- the response body is read up to ``max_response_bytes``; beyond that the connection is closed;
- every request asks for ``Accept-Encoding: identity``; an answer encoded anyway (``gzip``,
  ``deflate``, stacked or not) is unpacked here to at most ``max_response_bytes`` and handed
  back without its ``Content-Encoding``, so nobody downstream (httpx's decoders included)
  unpacks more: a 661-byte answer that unpacks to 300 MB costs 64 KiB, not 300 MB; other
  encodings (``br``, ``zstd``...) are not unpacked at all (the body is handed back empty);
- the whole exchange is bounded by a timeout;
- idle connections are kept per (address, port, host name) and reused only when their last
  response was completely framed with nothing after it, and nothing arrived since: a
  receiver that answers one request twice (a forged ``410 Gone`` queued behind its ``200``)
  has its connection closed, and never answers for the next subscriber on that address.

It is an :class:`httpx.AsyncBaseTransport`: the delivery worker speaks httpx's request and
response types, and tests may inject :class:`httpx.MockTransport` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
import typing
import zlib
from collections.abc import Sequence

import httptools
import httpx

from ..config import Settings
from ..errors import DeliveryError, UnsafeURLError
from . import netguard

_PoolKey = tuple[str, str, int, str]


_HIGH_WATER = 256 * 1024
"""Bytes buffered from a receiver before reading from its socket pauses."""


class _Connection(asyncio.Protocol):
    """One open HTTP/1.1 connection: the socket's bytes, buffered, and the answer httptools
    frames from them (its callbacks fill the fields below)."""

    def __init__(self, max_head: int) -> None:
        self.max_head = max_head
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.begin(0)

    def begin(self, limit: int) -> None:
        """Get ready for the answer to a new request (body kept up to ``limit`` bytes)."""
        self.parser = httptools.HttpResponseParser(self)
        self.limit = limit
        self.messages = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.body = bytearray()
        self.status = 0
        self.version = "1.1"
        self.keep_alive = False
        self.head_done = self.complete = self.truncated = False

    # -- httptools callbacks --
    def on_message_begin(self) -> None:
        self.messages += 1

    def on_status(self, reason: bytes) -> None:
        if self.messages == 1:
            self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.messages == 1 and not self.head_done:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.messages == 1:
            status = self.parser.get_status_code()
            if 100 <= status < 200:  # 1xx: the answer follows
                self.messages, self.headers, self.reason = 0, [], b""
            else:
                self.status, self.head_done = status, True
                self.version = self.parser.get_http_version()

    def on_body(self, body: bytes) -> None:
        if self.messages == 1 and not self.complete:
            room = self.limit - len(self.body)
            self.body += body[:room]
            self.truncated = self.truncated or len(body) > room

    def on_message_complete(self) -> None:
        if self.messages == 1 and self.head_done:
            self.complete = True
            self.keep_alive = self.parser.should_keep_alive()

    # -- asyncio.Protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and self.transport is not None and not self._paused:
            self.transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def receive(self) -> bytes:
        """What arrived since the last call; ``b""`` once the receiver closed."""
        while not self.buffer and not self.eof:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        data = bytes(self.buffer)
        self.buffer.clear()
        if self._paused and self.transport is not None:
            self.transport.resume_reading()
            self._paused = False
        return data

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    @property
    def clean(self) -> bool:
        """Nothing buffered and not closed: safe to send the next request on."""
        return (not self.buffer and not self.eof and self.transport is not None
                and not self.transport.is_closing())

    def close(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()


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
        try:
            connection.begin(self.max_response_bytes)
            connection.write(_serialize(request))
            await self._read(connection, reused)
        except _Reused:
            connection.close()
            raise
        except (httptools.HttpParserError, ValueError) as exc:
            connection.close()
            raise httpx.RemoteProtocolError(f"invalid HTTP answer: {exc}",
                                            request=request) from exc
        except ConnectionError as exc:
            connection.close()
            raise httpx.ReadError(f"connection lost: {exc!r}", request=request) from exc
        except BaseException:
            connection.close()
            raise
        status, version = connection.status, connection.version
        reason, raw_headers = connection.reason, connection.headers
        body = bytes(connection.body)
        self._release(key, connection)
        headers, body = _bounded_decode(raw_headers, body, self.max_response_bytes)
        # The body is in memory already; like any httpx transport, it is handed back as the
        # response's stream, for the caller to read (or not: the worker reads only the
        # answers to verification challenges).
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions={"http_version": b"HTTP/" + version.encode("ascii"),
                        "reason_phrase": reason},
        )

    async def _read(self, connection: _Connection, reused: bool) -> None:
        """Feed the answer to its parser until it is complete (or cut at the limit, or the
        receiver closed after a head: an answer that ends at close)."""
        fed = 0
        while not connection.complete and not connection.truncated:
            data = await connection.receive()
            if not data:
                if connection.messages == 0 and reused and fed == 0:
                    raise _Reused("the reused connection closed")
                if not connection.head_done:
                    raise ValueError("the connection closed before a complete answer")
                return  # the body ended at close (no length given)
            fed += len(data)
            try:
                connection.parser.feed_data(data)
            except httptools.HttpParserError:
                if not connection.complete:
                    raise
                connection.messages += 1  # garbage after a complete answer: never reused
            if not connection.head_done and fed > connection.max_head:
                raise ValueError(f"the answer's head exceeds {connection.max_head} bytes")

    def _release(self, key: _PoolKey, connection: _Connection) -> None:
        """Pool the connection if its answer was complete and alone: nothing after it, the
        receiver keeping it alive."""
        if (connection.complete and not connection.truncated and connection.messages == 1
                and connection.keep_alive and connection.clean):
            self._put_idle(key, connection)
        else:
            connection.close()

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
                _, connection = await asyncio.get_running_loop().create_connection(
                    lambda: _Connection(self.max_response_bytes),
                    str(address),
                    target.port,
                    ssl=self.ssl_context if tls else None,
                    server_hostname=target.host if tls else None,
                )
            except (OSError, ssl.SSLError) as exc:
                error = exc
                continue
            return connection
        raise httpx.ConnectError(
            f"cannot connect to {target.host}:{target.port}: {error}", request=request
        ) from error

    def _take_idle(self, key: _PoolKey) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.clean or now - connection.idle_since > self.keepalive_expiry:
                connection.close()  # closed, expired, or it spoke unasked: never reused
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


_UNSAFE_IN_HEAD = re.compile(rb"[\x00\r\n]")


def _serialize(request: httpx.Request) -> bytes:
    """The request's bytes; CR, LF or NUL in the target or any header is refused (no
    header or request can be smuggled in)."""
    try:
        body = request.content
    except httpx.RequestNotRead as exc:  # pragma: no cover - webhooks have bytes bodies
        raise UnsafeURLError("streaming request bodies are not supported") from exc
    target = request.url.raw_path
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), target)]
    length = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"accept-encoding":
            continue
        length = length or lowered == b"content-length"
        lines.append(b"%s: %s" % (name, value))
    lines.append(b"accept-encoding: identity")
    if not length:
        lines.append(b"content-length: %d" % len(body))
    if any(_UNSAFE_IN_HEAD.search(line) for line in lines) or b" " in target:
        raise httpx.LocalProtocolError("CR, LF or NUL in the request", request=request)
    head = b"\r\n".join(lines)
    return head + b"\r\n\r\n" + body


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
