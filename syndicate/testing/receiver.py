"""Webhook fakes: a clock that moves only when told to, and a real HTTP server on 127.0.0.1
that records every webhook request and answers as programmed (status, headers, body, delay).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import SyndicateError

if TYPE_CHECKING:
    from aiohttp import web



class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        """Move the clock forward; the new time."""
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    """Seconds to wait before answering (a hanging receiver: a long delay)."""
    echo_challenge: bool = True
    """Answer ``endpoint.verify`` with ``{"challenge": ...}`` (when ``body`` is empty)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver got."""

    port: int
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    at: float
    """``time.monotonic()`` on arrival."""
    method: str = "POST"
    query: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header."""
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


class Receiver:
    """A recording webhook receiver: aiohttp on 127.0.0.1, in a background thread.

    Usable from synchronous tests, from ``asyncio.run`` and by subprocesses alike::

        with Receiver() as receiver:
            receiver.program("/hook", Reply(500), Reply(500), Reply(200))
            ...  # send to receiver.url("/hook")
            assert len(receiver.requests("/hook")) == 3
    """

    def __init__(self, ports: int = 1) -> None:
        self.port_count = ports
        self.ports: list[int] = []
        self._lock = threading.Lock()
        self._programs: dict[str, collections.deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._received: list[Received] = []
        self._verifiers: dict[str, Callable[[bytes, dict[str, str]], bool]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str = "/hook", index: int = 0) -> str:
        """The URL of ``path`` on the ``index``-th port."""
        return f"http://127.0.0.1:{self.ports[index]}{path}"

    def program(self, path: str, *replies: Reply, default: Reply | None = None) -> None:
        """Answer the next requests to ``path`` with ``replies``, then with ``default``."""
        with self._lock:
            self._programs[path] = collections.deque(replies)
            if default is not None:
                self._defaults[path] = default

    def verify(self, path: str, check: Callable[[bytes, dict[str, str]], bool]) -> None:
        """Answer 401 to every request to ``path`` that ``check(body, headers)`` refuses, as a
        receiver verifying signatures strictly does (e.g. with a Standard Webhooks library);
        refused requests are recorded too."""
        with self._lock:
            self._verifiers[path] = check

    def requests(self, path: str | None = None) -> list[Received]:
        """Every request received (to ``path``), in arrival order."""
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests (to ``path``) arrived; whether they did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests(path)) >= count:
                return True
            time.sleep(0.01)
        return len(self.requests(path)) >= count

    def start(self) -> None:
        """Start listening (in a background thread)."""
        self._thread = threading.Thread(target=self._serve, name="receiver", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):  # pragma: no cover - a broken machine
            raise SyndicateError("receiver did not start")

    def stop(self) -> None:
        """Stop listening and join the thread."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        for _ in range(self.port_count):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.base_events.Server)
            self.ports.append(server.sockets[0].getsockname()[1])
        self._ready.set()
        await self._stopped.wait()
        await runner.cleanup()

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            queue = self._programs.get(path)
            if queue:
                return queue.popleft()
            return self._defaults.get(path, Reply())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        body = await request.read()
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        received = Received(
            port, request.path, {k.lower(): v for k, v in request.headers.items()}, body,
            time.monotonic(), request.method, dict(request.query),
        )
        with self._lock:
            self._received.append(received)
            check = self._verifiers.get(request.path)
        if check is not None and not check(body, received.headers):
            return web.Response(status=401, body=b"bad signature")
        reply = self._next_reply(request.path)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        content = reply.body
        if not content and reply.echo_challenge and 200 <= reply.status < 300:
            # WebSub verification of intent: echo hub.challenge from the query.
            challenge = request.query.get("hub.challenge")
            content = challenge.encode() if challenge is not None else _challenge_echo(body)
        return web.Response(status=reply.status, body=content, headers=dict(reply.headers))


def _challenge_echo(body: bytes) -> bytes:
    try:
        event = json.loads(body)
    except ValueError:
        return b""
    if isinstance(event, dict) and event.get("type") == "endpoint.verify":
        return json.dumps({"challenge": event["data"]["challenge"]}).encode()
    return b""


def webhook_ids(received: Iterable[Received]) -> collections.Counter[str]:
    """How many times each ``webhook-id`` arrived."""
    return collections.Counter(r.webhook_id for r in received)
