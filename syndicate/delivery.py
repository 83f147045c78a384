"""Webhook delivery: Standard Webhooks signing, the retry policy and the worker.

Delivery is at least once: a delivery row exists before anything is sent, a worker claims it
with a lease, and it is marked delivered only after a 2xx. A worker killed mid-request leaves
its lease to expire; the delivery is sent again with the same ``webhook-id`` and body.

Retry schedule (Svix's, with +/-10 % jitter): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h (the ``retry_schedule`` setting replaces it); then the delivery is dead (``syndicate
deliveries retry`` revives it). ``Retry-After`` is
honoured on 429 and 503; a 3xx is a failure (redirects are never followed); 410 Gone disables
the subscriber; a subscriber failing for ``disable_after_days`` is disabled.

Concurrency: at most ``delivery_concurrency`` requests in flight, and at most
``subscriber_concurrency`` to one subscriber, so a slow receiver only ever holds its own
slots. Database work runs on one background thread and is batched, so the event loop keeps
sending while the store writes.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import email.utils
import functools
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from sqlalchemy.engine import Engine

from . import outbox, websub
from .config import Settings
from .errors import UnsafeURLError
from .events import VERIFY_EVENT

if TYPE_CHECKING:
    from .metrics import Metrics

Clock = Callable[[], dt.datetime]
T = TypeVar("T")

SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Seconds to wait before attempt n+1 (``SCHEDULE[0]`` is the first attempt: immediately)."""
JITTER = 0.1
log = logging.getLogger("syndicate.delivery")
MAX_RETRY_AFTER = 24 * 3600.0
RETRY_AFTER_STATUSES = (429, 503)
"""Answers whose ``Retry-After`` header sets the next attempt's time."""
USER_AGENT = "Syndicate-Webhooks/1"


def utc_now() -> dt.datetime:
    """The real clock."""
    return dt.datetime.now(dt.UTC)


# -- signing --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks signature: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    key = _key(secret)
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()


def signed_headers(
    secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one attempt; several secrets (rotation) give several signatures."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets),
    }


# -- policy ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """What came back from one attempt."""

    status: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None
    challenge_ok: bool = False


def retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP date), bounded."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def decide(
    job: outbox.Job, answer: Answer, now: dt.datetime, rng: random.Random,
    schedule: Sequence[float] = SCHEDULE,
) -> outbox.Result:
    """Apply the retry policy (``schedule``, see ``SCHEDULE``) to one attempt."""
    status = answer.status
    verify = job.event_type == VERIFY_EVENT
    success = status is not None and 200 <= status < 300 and (answer.challenge_ok or not verify)
    error = answer.error
    if status is not None and not success and error is None:
        if 300 <= status < 400:
            error = f"redirect {status} not followed"
        elif verify and 200 <= status < 300:
            error = "challenge not echoed"
        else:
            error = f"HTTP {status}"
    base = outbox.Result(job, now, status, answer.duration_ms, error, "pending", now)
    if success:
        return dataclasses.replace(base, state="delivered", verified=verify)
    if status == 410:
        return dataclasses.replace(base, state="dead", disable="receiver answered 410 Gone")
    if job.attempt >= len(schedule):
        return dataclasses.replace(base, state="dead")
    delay = schedule[job.attempt]
    if answer.retry_after is not None and status in RETRY_AFTER_STATUSES:
        delay = answer.retry_after
    else:
        delay *= 1 + rng.uniform(-JITTER, JITTER)
    return dataclasses.replace(base, due_at=now + dt.timedelta(seconds=delay))


# -- the worker -----------------------------------------------------------------------------


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
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = dt.timedelta(seconds=lease if lease is not None else settings.delivery_lease)
        self.flush_every = flush_every
        self.metrics = metrics
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store")
        self._urls: dict[str, httpx.URL] = {}
        self._bodies: dict[str, tuple[str, str | None]] = {}
        self._transport_bounds_time = getattr(transport, "bounds_time", False) is True
        """The transport enforces the request's timeout on the whole exchange itself."""

    async def _db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))

    def close(self) -> None:
        """Stop the store thread."""
        self._executor.shutdown(wait=True)

    async def send(self, job: outbox.Job) -> Answer:
        """One signed attempt; never raises for what a receiver does."""
        now = self.clock()
        if job.topic is not None:
            headers = websub.distribution_headers(
                job.topic, websub.hub_url(self.settings), job.secrets[0], job.body, USER_AGENT
            )
        else:
            headers = signed_headers(job.secrets, job.event_id, int(now.timestamp()), job.body)
        url = self._urls.get(job.url)
        if url is None:
            url = self._urls[job.url] = httpx.URL(job.url)
        timeout = self.settings.webhook_timeout
        # The body is passed as a stream with its Host and Content-Length set here: httpx's
        # documented way to build a request without re-deriving them (and rebuilding the
        # headers) for every delivery.
        request = httpx.Request(
            "POST", url,
            headers=[("host", url.netloc.decode("ascii")),
                     ("content-length", str(len(job.body))), *headers.items()],
            stream=httpx.ByteStream(job.body),
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout,
                                    "pool": timeout}},
        )
        request.read()
        verify = job.event_type == VERIFY_EVENT
        started = time.perf_counter()
        try:
            timer = (contextlib.nullcontext() if self._transport_bounds_time
                     else asyncio.timeout(timeout))
            async with timer:
                response = await self.transport.handle_async_request(request)
                content = await _answer_body(response, verify)
        except (TimeoutError, httpx.TimeoutException):
            return Answer(None, f"timed out after {timeout:g} s", _ms(started))
        except UnsafeURLError as exc:
            return Answer(None, f"refused: {exc}", _ms(started))
        except httpx.HTTPError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        status = response.status_code
        challenge_ok = False
        if verify and 200 <= status < 300:
            challenge_ok = _echoes_challenge(job.body, content)
        asked = None
        if status in RETRY_AFTER_STATUSES:
            asked = retry_after(response.headers.get("retry-after"), now)
        return Answer(status, None, _ms(started), asked, challenge_ok)

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
        concurrency = settings.delivery_concurrency
        schedule = settings.retry_delays or SCHEDULE
        disable_after = dt.timedelta(days=settings.disable_after_days)
        running: dict[asyncio.Task[Answer], outbox.Job] = {}
        queued: collections.deque[outbox.Job] = collections.deque()
        held: dict[str, int] = {}  # claimed (queued or in flight) per subscriber
        completed: list[tuple[outbox.Job, Answer]] = []
        done: list[outbox.Result] = []
        wake = asyncio.Event()
        attempts = delivered = 0
        last_flush = last_claim = 0.0

        def finished(task: asyncio.Task[Answer]) -> None:
            job = running.pop(task)
            if task.cancelled():
                return
            error = task.exception()
            answer = task.result() if error is None else Answer(None, repr(error)[:500], 0.0)
            completed.append((job, answer))
            wake.set()

        def start() -> None:
            while queued and len(running) < concurrency:
                job = queued.popleft()
                task = asyncio.create_task(self.send(job))
                running[task] = job
                task.add_done_callback(finished)

        async def flush() -> None:
            nonlocal last_flush
            batch = done[:]
            done.clear()
            last_flush = time.monotonic()
            await self._db(outbox.record, self.engine, batch, now=self.clock(),
                           worker=self.name, disable_after=disable_after)

        try:
            while True:
                for job, answer in completed:
                    held[job.subscriber_id] -= 1
                    result = decide(job, answer, self.clock(), self.rng, schedule)
                    done.append(result)
                    if self.metrics is not None:
                        outcome = "retry" if result.state == "pending" else result.state
                        self.metrics.record_delivery(outcome)
                    if result.state != "delivered":
                        _log_failure(result)
                    attempts += 1
                    delivered += result.state == "delivered"
                completed.clear()
                busy = bool(running or queued)
                urgent = any(r.disable or r.verified for r in done)
                late = time.monotonic() - last_flush > 0.2
                # Sent but unrecorded deliveries are still claimed: they count against the
                # 2 x concurrency a worker may hold (what a killed worker can leave to be
                # sent twice), so when claims run high, flush rather than let them block the
                # next claim; once a quarter of the concurrency waits, not after every
                # wake-up (with several workers per core that meant batches of a few dozen).
                cramped = len(done) >= concurrency // 4 and (
                    len(running) + len(queued) + len(done) > 2 * concurrency - concurrency // 2)
                if done and (not busy or urgent or late or cramped
                             or len(done) >= self.flush_every):
                    await flush()  # before claiming: a subscriber's state may have changed
                room_total = 2 * concurrency - len(running) - len(queued) - len(done)
                eager = room_total >= concurrency // 2 or not busy or (
                    time.monotonic() - last_claim > 0.05 and len(queued) < concurrency // 4
                )
                stopping = stop is not None and stop.is_set()
                if room_total > 0 and eager and not stopping:
                    last_claim = time.monotonic()
                    now = self.clock()
                    room = {sid: settings.subscriber_concurrency - n for sid, n in held.items()}
                    claimed = await self._db(
                        outbox.claim, self.engine, now=now, limit=room_total,
                        lease_until=now + self.lease, worker=self.name, room=room,
                        cap=settings.subscriber_concurrency, subscriber_id=subscriber_id,
                        bodies=self._bodies,
                    )
                    for job in claimed:
                        held[job.subscriber_id] = held.get(job.subscriber_id, 0) + 1
                    queued.extend(claimed)
                if stopping and queued:
                    await self._db(outbox.release, self.engine,
                                   [job.delivery_id for job in queued], self.name)
                    for job in queued:
                        held[job.subscriber_id] -= 1
                    queued.clear()
                start()
                if not running and not queued and not completed:
                    if done:
                        continue
                    if until_idle or stopping:
                        break
                    await _sleep_or_stop(poll_interval, stop)
                    continue
                if not completed:
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), 0.05)
        finally:
            for task in list(running):
                task.cancel()
        return Stats(attempts, delivered, attempts - delivered)


def _log_failure(result: outbox.Result) -> None:
    """One line per failed attempt; never the URL (it may carry a token) or a secret."""
    job = result.job
    log.warning("delivery attempt failed", extra={
        "subscriber": job.subscriber_id, "delivery": job.delivery_id,
        "webhook_id": job.event_id, "attempt": job.attempt, "status": result.status,
        "error": result.error, "state": result.state,
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
    """The answer's body when it is ``wanted`` (a verification's echo); otherwise the
    response is closed unread (with :class:`~syndicate.transport.PinnedTransport` the bytes,
    at most its limit, were read off the connection already)."""
    if wanted:
        return await response.aread()
    await response.aclose()
    return b""


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
    if transport is None:
        from .transport import PinnedTransport

        transport = PinnedTransport(
            allow_networks=settings.webhook_allow_networks, timeout=settings.webhook_timeout
        )
    worker = Worker(engine, settings, transport, clock=clock, lease=lease)
    try:
        return await worker.run(until_idle=True, subscriber_id=subscriber_id)
    finally:
        worker.close()
        if own:
            await transport.aclose()
