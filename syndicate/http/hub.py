"""The WebSub hub's front door (``POST /websub``): open to anyone, so everything it does is
bounded.

Anyone may ask the hub to verify a callback, and each verification costs the service an
outgoing connection, a name resolution and a database write. Without bounds, a thousand
anonymous requests exhausted the process's open files and a callback name whose DNS hangs
held the threads the partner API runs on. So, in the order a request meets them:

- a token bucket per client address (``websub_rate_limit``/``websub_rate_burst``; behind a
  proxy on loopback, uvicorn reads the client from ``X-Forwarded-For``): 429 + Retry-After;
- the form is checked against the topic set, read once per manifest
  (:class:`~syndicate.webhooks.websub.TopicSet`), never once per request;
- a callback given as an address is checked at once; a name is resolved only when the
  verification runs, asynchronously and within ``dns_timeout`` (:mod:`~syndicate.webhooks
  .netguard`);
- a token bucket per callback host (the same rate): 429 + Retry-After;
- the caps on subscriptions per callback host and in total (``websub_max_per_host``,
  ``websub_max_subscriptions``), counting the requests still waiting: 403;
- verifications wait in one queue of at most ``websub_verify_queue`` (503 + Retry-After
  beyond) and at most ``websub_verify_concurrency`` run at once, over one shared client:
  however many requests arrive, the hub holds a handful of sockets.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .._time import Clock
from ..config import Settings
from ..errors import ApiError, HubRequestError, UnsafeURLError
from ..webhooks import PinnedTransport, netguard, websub
from .inputs import RateLimiter, read_body

log = logging.getLogger("syndicate.api")
T = TypeVar("T")
COUNTS_TTL = 5.0
"""Seconds the subscription counts the caps are checked against are reused."""


class HubFrontDoor:
    """``POST /websub`` and the verifications it queues (see the module doc)."""

    def __init__(self, settings: Settings, engine: Engine, *, clock: Clock,
                 resolver: netguard.Resolver | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.resolver = resolver
        self.topics = websub.TopicSet(settings)
        self.allow = netguard.parse_networks(settings.webhook_allow_networks)
        self.clients = RateLimiter(settings.websub_rate_limit, settings.websub_rate_burst)
        self.hosts = RateLimiter(settings.websub_rate_limit, settings.websub_rate_burst)
        self.waiting: collections.deque[websub.HubRequest] = collections.deque()
        self.pending_hosts: collections.Counter[str] = collections.Counter()
        """Subscribe requests queued or being verified, per callback host."""
        self.tasks: set[asyncio.Task[None]] = set()
        self._counts: tuple[float, int, dict[str, int]] | None = None
        self._client: httpx.AsyncClient | None = None

    async def db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run store work in the thread pool."""
        return await run_in_threadpool(func, *args, **kwargs)

    async def handle(self, request: Request) -> Response:
        """POST /websub: check, limit and queue a (un)subscription request; 202."""
        client = request.client.host if request.client else ""
        _limit(self.clients, client, "this address")
        body = await read_body(request, self.settings.api_max_body)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            raise ApiError(415, "unsupported_media_type",
                           "send the form as application/x-www-form-urlencoded")
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "malformed_form", "the body is not a URL-encoded form") from exc
        try:
            hub_request = websub.parse_request(fields, self.settings, self.topics())
            netguard.check_literal(netguard.parse_target(hub_request.callback), self.allow)
        except (HubRequestError, UnsafeURLError) as exc:
            raise ApiError(400, "invalid_hub_request", str(exc)) from exc
        host = websub.callback_host(hub_request.callback)
        _limit(self.hosts, host, "this callback host")
        if hub_request.mode == "subscribe":
            total, per_host = await self.counts()
            reason = websub.over_cap(self.settings, total + sum(self.pending_hosts.values()),
                                     per_host.get(host, 0) + self.pending_hosts[host])
            if reason is not None:
                raise ApiError(403, "subscription_limit", reason)
        if len(self.waiting) >= self.settings.websub_verify_queue:
            raise ApiError(503, "hub_busy", "too many verifications are waiting",
                           headers={"retry-after": "30"})
        self.submit(hub_request)
        return Response(status_code=202)

    async def counts(self) -> tuple[int, dict[str, int]]:
        """Subscriptions in total and per callback host, read at most every few seconds."""
        now = time.monotonic()
        if self._counts is None or self._counts[0] < now:
            total, per_host = await self.db(websub.counts, self.engine)
            self._counts = (now + COUNTS_TTL, total, per_host)
        return self._counts[1], self._counts[2]

    def submit(self, hub_request: websub.HubRequest) -> None:
        """Queue a verification; start a verifier if fewer than the cap run."""
        self.waiting.append(hub_request)
        if hub_request.mode == "subscribe":
            self.pending_hosts[websub.callback_host(hub_request.callback)] += 1
        if len(self.tasks) < self.settings.websub_verify_concurrency:
            task = asyncio.create_task(self._verifier())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def client(self) -> httpx.AsyncClient:
        """The one client every verification goes through (its pool bounds the sockets)."""
        if self._client is None:
            transport = PinnedTransport.from_settings(self.settings, resolver=self.resolver)
            self._client = httpx.AsyncClient(
                transport=transport, follow_redirects=False,
                timeout=httpx.Timeout(self.settings.webhook_timeout))
        return self._client

    async def _verifier(self) -> None:
        """Verify queued requests one after the other until none is left."""
        while self.waiting:
            hub_request = self.waiting.popleft()
            try:
                await self.verify(hub_request)
            except Exception as exc:  # one request never stops the hub
                log.warning("websub verification failed", extra={"error": type(exc).__name__})
            finally:
                if hub_request.mode == "subscribe":
                    host = websub.callback_host(hub_request.callback)
                    self.pending_hosts[host] -= 1
                    if self.pending_hosts[host] <= 0:
                        del self.pending_hosts[host]
        current = asyncio.current_task()
        if self._client is not None and all(t is current or t.done() for t in self.tasks):
            # The last verifier closes the client: no socket stays open while the hub idles.
            client, self._client = self._client, None
            await client.aclose()

    async def verify(self, hub_request: websub.HubRequest) -> None:
        """Verify a hub request's intent and, if confirmed, apply it (within the caps)."""
        confirmed = await websub.verify_intent(self.client(), hub_request)
        if not confirmed:
            log.info("websub intent not confirmed", extra={"mode": hub_request.mode})
            return
        subscription = await self.db(websub.apply, self.engine, hub_request, now=self.clock(),
                                     settings=self.settings)
        self._counts = None
        log.info("websub request applied",
                 extra={"mode": hub_request.mode, "subscriber": subscription})

    async def aclose(self) -> None:
        """Stop the verifiers and close the client."""
        for task in list(self.tasks):
            task.cancel()
        self.waiting.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _limit(limiter: RateLimiter, key: str, who: str) -> None:
    wait = limiter.take(key)
    if wait > 0:
        raise ApiError(429, "rate_limited", f"too many hub requests for {who}",
                       headers={"retry-after": RateLimiter.retry_after(wait)})
