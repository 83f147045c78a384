"""The built-in server bounds request heads, against a real ``syndicate run`` on 127.0.0.1:
one endless header line, or thousands of small ones, get 431 at once and cost no memory.
Before: a 200 MB header line to ``/healthz`` got a 200 after 56 s of CPU and +410 MB."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from syndicate.testing.flood import service_memory
from tests.support import Proc, processes, service_env

pytestmark = pytest.mark.slow
MB = 1024 * 1024


def _send_until_answered(port: int, head: bytes, filler: bytes, limit: int) -> tuple[bytes, int]:
    """Send ``head`` then ``filler`` repeatedly (up to ``limit`` bytes) until the server
    answers or closes; what it answered and how many bytes it took."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        while sent < limit:
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            try:
                sent += sock.send(filler)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_huge_request_heads_get_431_fast_and_cheap(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    env = service_env(workspace, database_url, sync_interval=3600)
    with processes() as started:
        started.append(proc := Proc(["run", "--host", "127.0.0.1"], env, tmp_path, "run"))
        port = int(proc.url().rsplit(":", 1)[1])
        before, _ = service_memory(proc.pid)
        # One endless header line (200 MB offered).
        answer, sent = _send_until_answered(
            port, b"GET /healthz HTTP/1.1\r\nhost: a\r\nx-big: ", b"a" * MB, 200 * MB)
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        assert sent < 32 * MB
        # Thousands of small header lines.
        lines = b"".join(b"x-h%d: %s\r\n" % (i, b"v" * 40) for i in range(2000))
        answer, _ = _send_until_answered(
            port, b"GET /healthz HTTP/1.1\r\nhost: a\r\n" + lines, b"x-more: 1\r\n", 10 * MB)
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        # An ordinary request with an 8 KB header is still served.
        answer, _ = _send_until_answered(
            port, b"GET /healthz HTTP/1.1\r\nhost: a\r\nx-ok: " + b"b" * 8192 + b"\r\n\r\n",
            b"", 0)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        after, _ = service_memory(proc.pid)
        assert after - before < 50, (before, after)
        assert proc.terminate() == 0
