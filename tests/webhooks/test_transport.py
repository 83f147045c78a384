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
