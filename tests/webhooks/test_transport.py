"""The webhook transport against hand-written HTTP/1.1 answers on 127.0.0.1."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from syndicate.webhooks.transport import PinnedTransport


async def _exchange(answers: list[bytes], requests: int = 1, **kw: object) -> list[httpx.Response]:
    """Serve ``answers`` in turn (one per request, any connection); send ``requests``."""
    queue = list(answers)
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while queue:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                answer = queue.pop(0)
                writer.write(answer)
                await writer.drain()
                lowered = answer.lower()
                framed = b"content-length" in lowered or b"chunked" in lowered
                if b"connection: close" in lowered or not framed:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = PinnedTransport(allow_networks=["127.0.0.0/8"], **kw)  # type: ignore[arg-type]
    try:
        responses = []
        for _ in range(requests):
            response = await transport.handle_async_request(
                httpx.Request("POST", f"http://127.0.0.1:{port}/hook", content=b"{}")
            )
            await response.aread()  # a transport hands back the body as a stream
            responses.append(response)
        return responses
    finally:
        await transport.aclose()
        server.close()


def test_chunked_answer_is_decoded() -> None:
    """Chunked bodies are read, trailers skipped."""
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    (response,) = asyncio.run(_exchange([answer]))
    assert (response.status_code, response.content) == (200, b"hello world")


def test_keep_alive_connection_is_reused() -> None:
    """Two requests, one connection, both answered."""
    answer = b"HTTP/1.1 204 No Content\r\n\r\n"
    responses = asyncio.run(_exchange([answer, answer], requests=2))
    assert [r.status_code for r in responses] == [204, 204]


def test_body_beyond_the_limit_is_cut() -> None:
    """Only ``max_response_bytes`` are read."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
    (response,) = asyncio.run(_exchange([answer], max_response_bytes=1000))
    assert len(response.content) == 1000


def test_answer_until_close_without_length() -> None:
    """HTTP/1.0-style answers end at connection close."""
    (response,) = asyncio.run(_exchange([b"HTTP/1.0 503 Busy\r\nRetry-After: 7\r\n\r\nlater"]))
    assert (response.status_code, response.headers["retry-after"]) == (503, "7")
    assert response.content == b"later"


def test_garbage_answer_is_a_protocol_error() -> None:
    """Not HTTP: a clear httpx error, never a crash."""
    with pytest.raises(httpx.HTTPError):
        asyncio.run(_exchange([b"SSH-2.0-OpenSSH\r\n\r\n"]))


async def _two_subscribers(smuggle_later: bool) -> list[tuple[str, int]]:
    """One receiver host:port serving two subscribers: ``/evil`` answers 200 and then an
    unrequested ``410 Gone`` on the same connection (at once, or while the connection idles);
    ``/honest`` answers 200. Returns (path, status) as the transport saw them."""
    forged = b"HTTP/1.1 410 Gone\r\ncontent-length: 0\r\n\r\n"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
                if head.startswith(b"POST /evil"):
                    if smuggle_later:
                        writer.write(answer)
                        await writer.drain()
                        await asyncio.sleep(0.1)
                        answer = forged
                    else:
                        answer += forged
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = PinnedTransport(allow_networks=["127.0.0.0/8"])
    seen = []
    try:
        for path in ("/evil", "/honest", "/evil", "/honest", "/honest"):
            response = await transport.handle_async_request(
                httpx.Request("POST", f"http://127.0.0.1:{port}{path}", content=b"{}"))
            seen.append((path, response.status_code))
            await asyncio.sleep(0.2)  # let a late forgery arrive while the connection idles
    finally:
        await transport.aclose()
        server.close()
    return seen


@pytest.mark.parametrize("smuggle_later", [False, True])
def test_a_smuggled_answer_never_reaches_another_subscriber(smuggle_later: bool) -> None:
    """Before: the forged 410 queued behind the 200 was read as the next subscriber's answer
    (and disabled it). Now a connection with anything left over is closed, never reused."""
    seen = asyncio.run(_two_subscribers(smuggle_later))
    assert seen == [("/evil", 200), ("/honest", 200), ("/evil", 200), ("/honest", 200),
                    ("/honest", 200)]


def test_conflicting_framing_is_refused() -> None:
    """Conflicting framing (two different Content-Lengths) is refused, not guessed."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello"
    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(_exchange([answer]))
