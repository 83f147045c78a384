"""Hostile answers to verification and delivery, replayed over real sockets on 127.0.0.1:
decompression bombs (stacked ``Content-Encoding``) never unpack beyond a small bound."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from syndicate.webhooks import websub
from syndicate.webhooks.transport import PinnedTransport

MB = 1024 * 1024


@functools.cache
def _bomb() -> bytes:
    """50 MB of zeros, gzip inside gzip: a few hundred bytes on the wire."""
    inner = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = bytes(MB)
    layer = b"".join(inner.compress(chunk) for _ in range(50)) + inner.flush()
    return gzip.compress(layer, 9)


Answer = Callable[[bytes], bytes]


async def _serve(answer: Answer, run: Callable[[int], Awaitable[Any]]) -> Any:
    """A raw HTTP/1.1 server on 127.0.0.1 answering each request head with ``answer(head)``."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            heads.append(head)
            if b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            writer.write(answer(head))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        result = await run(server.sockets[0].getsockname()[1])
    finally:
        server.close()
    return result, heads


def _gzip_gzip(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (len(body), body))


def _verify(port: int) -> Awaitable[bool]:
    async def run() -> bool:
        transport = PinnedTransport(allow_networks=["127.0.0.0/8"])
        async with httpx.AsyncClient(transport=transport) as client:
            request = websub.HubRequest("subscribe", "https://answers.example/de/feed.atom",
                                        f"http://127.0.0.1:{port}/cb", 600)
            return await websub.verify_intent(client, request)
    return run()


def _peak(work: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_stacked_gzip_bomb_in_a_websub_verification_answer_stays_small() -> None:
    """Before: the 50 MB the bomb unpacks to were all in memory. Now: at most the transport's
    64 KiB bound per layer; the intent is simply not confirmed."""
    bomb = _bomb()
    assert len(bomb) < 64 * 1024
    (confirmed, heads), peak = _peak(lambda: asyncio.run(
        _serve(lambda head: _gzip_gzip(bomb), _verify)))
    assert confirmed is False
    assert peak < 5 * MB, f"verification peaked at {peak / MB:.1f} MB"
    assert b"accept-encoding: identity" in heads[0].lower()


def test_a_gzip_bomb_in_a_delivery_answer_stays_small() -> None:
    """The delivery worker's path (the body of an ``endpoint.verify`` answer is read)."""
    bomb = _bomb()

    async def post(port: int) -> bytes:
        transport = PinnedTransport(allow_networks=["127.0.0.0/8"])
        request = httpx.Request("POST", f"http://127.0.0.1:{port}/hook", content=b"{}",
                                headers={"accept-encoding": "gzip, br"})
        try:
            response = await transport.handle_async_request(request)
            return await response.aread()
        finally:
            await transport.aclose()

    (body, heads), peak = _peak(lambda: asyncio.run(
        _serve(lambda head: _gzip_gzip(bomb), post)))
    assert len(body) <= 64 * 1024
    assert peak < 5 * MB, f"delivery peaked at {peak / MB:.1f} MB"
    assert b"accept-encoding: identity" in heads[0].lower()
    assert b"br" not in heads[0].lower()


def test_an_honest_gzip_answer_still_verifies() -> None:
    """A receiver that gzips its echo anyway is still understood (within the bound)."""

    def echo(head: bytes) -> bytes:
        target = head.split(b" ", 2)[1].decode()
        query = dict(httpx.URL(target).params)
        return _gzip_gzip(gzip.compress(gzip.compress(query["hub.challenge"].encode())))

    confirmed, _ = asyncio.run(_serve(echo, _verify))
    assert confirmed is True


def test_an_unknown_encoding_is_not_unpacked() -> None:
    """``br`` or anything else: the body is dropped rather than handed to a decoder."""

    async def post(port: int) -> httpx.Response:
        transport = PinnedTransport(allow_networks=["127.0.0.0/8"])
        try:
            response = await transport.handle_async_request(
                httpx.Request("POST", f"http://127.0.0.1:{port}/hook", content=b"{}"))
            await response.aread()
        finally:
            await transport.aclose()
        return response

    body = json.dumps({"challenge": "x"}).encode()
    answer = (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: %d\r\n\r\n%s"
              % (len(body), body))
    response, _ = asyncio.run(_serve(lambda head: answer, post))
    assert response.status_code == 200
    assert response.content == b""
    assert "content-encoding" not in response.headers
