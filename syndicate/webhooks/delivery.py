"""The delivery worker: claims due deliveries, sends them signed, records what came back.

Delivery is at least once: a delivery row exists before anything is sent, a worker claims it
with a lease (:mod:`syndicate.webhooks.queue`), and it is marked delivered only after a 2xx.
A worker killed mid-request leaves its lease to expire; the delivery is sent again with the
same ``webhook-id`` and body. What each outcome means is the retry policy's
(:mod:`syndicate.webhooks.policy`); a subscriber failing for ``disable_after_days`` is
disabled.

Concurrency: at most ``delivery_concurrency`` requests in flight, and at most
``subscriber_concurrency`` to one subscriber, so a slow receiver only ever holds its own
slots. Partner webhooks and WebSub content distributions are claimed and sent in two lanes
of their own (WebSub with at most ``websub_delivery_concurrency`` in flight): anyone may
subscribe to the hub, so hundreds of callbacks that stall can never hold a partner's
delivery back. Database work runs on one background thread and is batched, so the event loop keeps
sending while the store writes.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from sqlalchemy.engine import Engine

from .._time import Clock, process_name, utc_now
from ..config import Settings
from ..errors import UnsafeURLError
from ..publication import hub_url
from . import queue, websub
from .events import VERIFY_EVENT
from .policy import (
    RETRY_AFTER_STATUSES,
    SCHEDULE,
    USER_AGENT,
    Attempt,
    decide,
    retry_after,
    signed_headers,
)
from .queue import Claim, Decision
from .transport import PinnedTransport

if TYPE_CHECKING:
    from ..metrics import Metrics

T = TypeVar("T")
log = logging.getLogger("syndicate.delivery")
RESPONSE_EXCERPT = 200
"""Bytes of each answer's body kept with its attempt (partners read them in the console)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Stats:
    """What one run of the worker did."""

    attempts: int
    delivered: int
    failed: int


class Worker:
    """Claims due deliveries, sends them, records the outcome (see the module doc)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        transport: httpx.AsyncBaseTransport,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        name: str | None = None,
        lease: float | None = None,
        flush_every: int = 256,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.rng = rng or random.Random()
        self.name = name or process_name()
        self.lease = dt.timedelta(seconds=lease if lease is not None else settings.delivery_lease)
        self.flush_every = flush_every
        self.metrics = metrics
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store")
        self._urls: dict[str, httpx.URL] = {}
        self._bodies: dict[str, tuple[str, str | None]] = {}
        self._hub = hub_url(settings.base_url)
        self._transport_bounds_time = getattr(transport, "bounds_time", False) is True
        """The transport enforces the request's timeout on the whole exchange itself."""

    async def db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run store work on the worker's one store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))

    def close(self) -> None:
        """Stop the store thread."""
        self._executor.shutdown(wait=True)

    def _request(self, claim: Claim, now: dt.datetime) -> httpx.Request:
        """The signed request of one attempt."""
        if claim.topic is not None:
            headers = websub.distribution_headers(
                claim.topic, self._hub, claim.secrets[0], claim.body, USER_AGENT)
        else:
            headers = signed_headers(claim.secrets, claim.event_id, int(now.timestamp()),
                                     claim.body)
        url = self._urls.get(claim.url)
        if url is None:
            url = self._urls[claim.url] = httpx.URL(claim.url)
        timeout = self.settings.webhook_timeout
        # The body is passed as a stream with its Host and Content-Length set here: httpx's
        # documented way to build a request without re-deriving them (and rebuilding the
        # headers) for every delivery.
        request = httpx.Request(
            "POST", url,
            headers=[("host", url.netloc.decode("ascii")),
                     ("content-length", str(len(claim.body))), *headers.items()],
            stream=httpx.ByteStream(claim.body),
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout,
                                    "pool": timeout}},
        )
        request.read()
        return request

    async def send(self, claim: Claim) -> Attempt:
        """One signed attempt; never raises for what a receiver does."""
        now = self.clock()
        request = self._request(claim, now)
        verify = claim.event_type == VERIFY_EVENT
        timeout = self.settings.webhook_timeout
        started = time.perf_counter()
        try:
            timer = (contextlib.nullcontext() if self._transport_bounds_time
                     else asyncio.timeout(timeout))
            async with timer:
                response = await self.transport.handle_async_request(request)
                content = await _answer_body(response, verify)
        except (TimeoutError, httpx.TimeoutException):
            return Attempt(None, f"timed out after {timeout:g} s", _ms(started))
        except UnsafeURLError as exc:
            return Attempt(None, f"refused: {exc}", _ms(started))
        except httpx.HTTPError as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        status = response.status_code
        challenge_ok = verify and 200 <= status < 300 and _echoes_challenge(claim.body, content)
        asked = None
        if status in RETRY_AFTER_STATUSES:
            asked = retry_after(response.headers.get("retry-after"), now)
        excerpt = content[:RESPONSE_EXCERPT].decode("utf-8", "replace") or None
        return Attempt(status, None, _ms(started), asked, challenge_ok, excerpt)

    async def run(
        self, *, until_idle: bool = True, stop: asyncio.Event | None = None,
        subscriber_id: str | None = None, poll_interval: float = 1.0,
    ) -> Stats:
        """Deliver until nothing is due (``until_idle``) or until ``stop`` is set.

        Claims run ahead of sending by up to ``delivery_concurrency`` deliveries so the store
        is asked in batches; a subscriber never has more than ``subscriber_concurrency``
        deliveries claimed or in flight, so whatever is claimed can start as soon as a slot
        is free.
        """
        settings = self.settings
        lanes = [_Run(self, subscriber_id, "webhook", settings.delivery_concurrency),
                 _Run(self, subscriber_id, "websub", settings.websub_delivery_concurrency)]
        try:
            await asyncio.gather(*(
                self._drive(run, lanes, until_idle, stop, poll_interval) for run in lanes))
        finally:
            for run in lanes:
                run.cancel()
        attempts = sum(run.attempts for run in lanes)
        delivered = sum(run.delivered for run in lanes)
        return Stats(attempts, delivered, attempts - delivered)

    async def _drive(self, run: _Run, lanes: list[_Run], until_idle: bool,
                     stop: asyncio.Event | None, poll_interval: float) -> None:
        """One lane's loop. The partner lane, once dry while WebSub is still busy, keeps
        claiming (every 50 ms): a partner's delivery made meanwhile is sent now, not when the
        last stalled WebSub callback times out. (The WebSub lane never waits for the other:
        its claims walk past every due partner delivery.)"""
        while True:
            run.decide_completed()
            if run.flush_due():
                await run.flush()  # before claiming: a subscriber's state may have changed
            stopping = stop is not None and stop.is_set()
            if not stopping and run.claim_due():
                await run.claim()
            if stopping and run.queued:
                await run.release_queued()
            run.start()
            if run.idle:
                if run.done:
                    continue
                run.finished = True
                others_busy = run.lane == "webhook" and any(not o.finished for o in lanes)
                if stopping or (until_idle and not others_busy):
                    break
                await _sleep_or_stop(poll_interval if not until_idle else 0.05, stop)
                run.finished = False
            elif not run.completed:
                await run.wait()


class _Run:
    """One :meth:`Worker.run`: what is claimed, queued, in flight, answered and decided."""

    def __init__(self, worker: Worker, subscriber_id: str | None, lane: queue.Lane,
                 concurrency: int) -> None:
        self.worker = worker
        settings = worker.settings
        self.subscriber_id = subscriber_id
        self.lane: queue.Lane = lane
        self.finished = False
        """Idle with nothing to record (a lane may stop when every lane is)."""
        self.concurrency = concurrency
        self.schedule = settings.retry_delays or SCHEDULE
        self.disable_after = dt.timedelta(days=settings.disable_after_days)
        self.running: dict[asyncio.Task[Attempt], Claim] = {}
        self.queued: collections.deque[Claim] = collections.deque()
        self.held: dict[str, int] = {}
        """Claimed (queued or in flight) per subscriber."""
        self.completed: list[tuple[Claim, Attempt]] = []
        """Answered, not decided yet."""
        self.done: list[Decision] = []
        """Decided, not recorded yet (still claimed in the store)."""
        self.wake = asyncio.Event()
        self.attempts = self.delivered = 0
        self.last_flush = self.last_claim = 0.0

    @property
    def idle(self) -> bool:
        """Nothing in flight, queued or answered."""
        return not self.running and not self.queued and not self.completed

    def decide_completed(self) -> None:
        """Apply the retry policy to every answered attempt."""
        worker = self.worker
        for claim, attempt in self.completed:
            self.held[claim.subscriber_id] -= 1
            decision = decide(claim, attempt, worker.clock(), worker.rng, self.schedule)
            self.done.append(decision)
            if worker.metrics is not None:
                outcome = "retry" if decision.state == "pending" else decision.state
                worker.metrics.record_delivery(outcome)
            if decision.state != "delivered":
                _log_failure(decision)
            self.attempts += 1
            self.delivered += decision.state == "delivered"
        self.completed.clear()

    def flush_due(self) -> bool:
        """Whether the decisions should be recorded now rather than batched further."""
        if not self.done:
            return False
        concurrency, done = self.concurrency, len(self.done)
        busy = bool(self.running or self.queued)
        urgent = any(r.disable or r.verified for r in self.done)
        late = time.monotonic() - self.last_flush > 0.2
        # Sent but unrecorded deliveries are still claimed: they count against the
        # 2 x concurrency a worker may hold (what a killed worker can leave to be sent
        # twice), so when claims run high, flush rather than let them block the next claim;
        # once a quarter of the concurrency waits, not after every wake-up (with several
        # workers per core that meant batches of a few dozen).
        cramped = done >= concurrency // 4 and (
            len(self.running) + len(self.queued) + done > 2 * concurrency - concurrency // 2)
        return not busy or urgent or late or cramped or done >= self.worker.flush_every

    async def flush(self) -> None:
        """Record every decision in one batch."""
        worker = self.worker
        batch = self.done[:]
        self.done.clear()
        self.last_flush = time.monotonic()
        await worker.db(queue.record, worker.engine, batch, now=worker.clock(),
                        worker=worker.name, disable_after=self.disable_after)

    def room(self) -> int:
        """How many more deliveries this run may hold (claimed, in flight or unrecorded)."""
        return 2 * self.concurrency - len(self.running) - len(self.queued) - len(self.done)

    def claim_due(self) -> bool:
        """Whether to ask the store for more now: there is room, and enough of it (or the
        queue is running dry) to make the round trip worth it."""
        room, busy = self.room(), bool(self.running or self.queued)
        eager = room >= self.concurrency // 2 or not busy or (
            time.monotonic() - self.last_claim > 0.05
            and len(self.queued) < self.concurrency // 4)
        return room > 0 and eager

    async def claim(self) -> None:
        """Claim due deliveries within every subscriber's room; queue them."""
        worker, settings = self.worker, self.worker.settings
        self.last_claim = time.monotonic()
        now = worker.clock()
        room = {sid: settings.subscriber_concurrency - n for sid, n in self.held.items()}
        claimed = await worker.db(
            queue.claim, worker.engine, now=now, limit=self.room(),
            lease_until=now + worker.lease, worker=worker.name, room=room,
            cap=settings.subscriber_concurrency, subscriber_id=self.subscriber_id,
            bodies=worker._bodies, lane=self.lane,
        )
        for claim in claimed:
            self.held[claim.subscriber_id] = self.held.get(claim.subscriber_id, 0) + 1
        self.queued.extend(claimed)

    async def release_queued(self) -> None:
        """Give back what was claimed but not sent (the worker is stopping)."""
        worker = self.worker
        await worker.db(queue.release, worker.engine,
                        [claim.delivery_id for claim in self.queued], worker.name)
        for claim in self.queued:
            self.held[claim.subscriber_id] -= 1
        self.queued.clear()

    def start(self) -> None:
        """Send queued deliveries while there is room in flight."""
        while self.queued and len(self.running) < self.concurrency:
            claim = self.queued.popleft()
            task = asyncio.create_task(self.worker.send(claim))
            self.running[task] = claim
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Attempt]) -> None:
        claim = self.running.pop(task)
        if task.cancelled():
            return
        error = task.exception()
        attempt = task.result() if error is None else Attempt(None, repr(error)[:500], 0.0)
        self.completed.append((claim, attempt))
        self.wake.set()

    async def wait(self) -> None:
        """Until an attempt completes (or 50 ms, to claim and flush on time)."""
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), 0.05)

    def cancel(self) -> None:
        """Cancel whatever is still in flight."""
        for task in list(self.running):
            task.cancel()


def _log_failure(decision: Decision) -> None:
    """One line per failed attempt; never the URL (it may carry a token) or a secret."""
    claim = decision.claim
    log.warning("delivery attempt failed", extra={
        "subscriber": claim.subscriber_id, "delivery": claim.delivery_id,
        "webhook_id": claim.event_id, "attempt": claim.attempt, "status": decision.status,
        "error": decision.error, "state": decision.state,
    })


async def _sleep_or_stop(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _answer_body(response: httpx.Response, wanted: bool) -> bytes:
    """The answer's body when it is ``wanted`` (a verification's echo); otherwise its first
    :data:`RESPONSE_EXCERPT` bytes (kept with the attempt), and the rest is not read (with
    :class:`~syndicate.webhooks.transport.PinnedTransport` the bytes, at most its limit,
    were read off the connection already)."""
    if wanted:
        return await response.aread()
    if response.is_stream_consumed:  # a transport that read the body itself (tests' mocks)
        await response.aclose()
        return response.content[:RESPONSE_EXCERPT]
    head = b""
    try:
        async for chunk in response.aiter_raw():
            head += chunk
            if len(head) >= RESPONSE_EXCERPT:
                break
    finally:
        await response.aclose()
    return head[:RESPONSE_EXCERPT]


def _echoes_challenge(body: bytes, content: bytes) -> bool:
    try:
        expected = json.loads(body)["data"]["challenge"]
        echoed = json.loads(content)
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(echoed, dict) and echoed.get("challenge") == expected


async def deliver_until_idle(
    engine: Engine, settings: Settings, *, clock: Clock = utc_now,
    transport: httpx.AsyncBaseTransport | None = None, subscriber_id: str | None = None,
    lease: float | None = None,
) -> Stats:
    """Send every due delivery and return (``syndicate deliver --until-idle``)."""
    own = transport is None
    sender = PinnedTransport.from_settings(settings) if transport is None else transport
    worker = Worker(engine, settings, sender, clock=clock, lease=lease)
    try:
        return await worker.run(until_idle=True, subscriber_id=subscriber_id)
    finally:
        worker.close()
        if own:
            await sender.aclose()
