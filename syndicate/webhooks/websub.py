"""The WebSub hub (W3C WebSub, section 5-7) for the feeds' ``rel="hub"``.

A subscriber POSTs ``hub.mode`` (``subscribe`` or ``unsubscribe``), ``hub.topic`` (one of our
feed URLs), ``hub.callback`` (checked by the SSRF guard), optionally ``hub.lease_seconds``
(clamped to the settings' bounds) and ``hub.secret``. The hub answers ``202 Accepted`` and then
verifies the intent: a GET to the callback with ``hub.mode``, ``hub.topic``,
``hub.challenge`` and ``hub.lease_seconds``, which must answer 2xx with exactly the challenge
as its body. Only then is the subscription stored (or renewed, or removed): a callback that
does not echo the challenge is never activated.

Content distribution goes through the durable outbox: a sync that rewrites a feed queues, in
its own transaction, one ``websub.content`` event carrying the feed body and one delivery per
active subscription to that topic. The delivery worker POSTs it with the feed's content type,
``Link`` headers (hub and self) and, when a secret was given, ``X-Hub-Signature:
sha256=<hex HMAC-SHA256 of the body>``; failures are retried on the webhook schedule.
Subscriptions whose lease has passed receive nothing more and are removed at the next sync.

The hub is open to anyone, so it is bounded: the topic set is read once per manifest
(:class:`TopicSet`), subscriptions are capped per callback host and in total (checked again
when a verified request is stored, :func:`apply`), and the HTTP side
(:mod:`syndicate.http.hub`) limits rates and queues verifications.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Collection, Iterable
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from sqlalchemy.engine import Connection, Engine

from ..config import Settings
from ..errors import HubRequestError, UnsafeURLError
from ..publication import MANIFEST, MEDIA_TYPES, feed_media_type, read_manifest, site_url
from . import netguard, outbox
from . import subscribers as subs
from .queue import WEBSUB_EVENT

CONTENT_EVENT = WEBSUB_EVENT
MIN_LEASE = 300
MAX_SECRET_BYTES = 199
"""The WebSub limit on ``hub.secret``."""
Mode = Literal["subscribe", "unsubscribe"]


@dataclasses.dataclass(frozen=True, slots=True)
class HubRequest:
    """A parsed, checked subscription request."""

    mode: Mode
    topic: str
    callback: str
    lease_seconds: int
    secret: str = dataclasses.field(default="", repr=False)


def topics(settings: Settings) -> set[str]:
    """Every feed URL of the publication tree: the topics one may subscribe to."""
    base = site_url(settings.base_url)
    return {
        f"{base}/{path}" for path, record in read_manifest(settings.out_dir).items()
        if record.content_type.startswith(tuple(MEDIA_TYPES.values()))
    }


class TopicSet:
    """:func:`topics`, read again only when the manifest file changes (a stat per call)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stamp: tuple[int, int, int] | None = None
        self._topics: frozenset[str] = frozenset()

    def __call__(self) -> frozenset[str]:
        """The current topics."""
        try:
            stat = (self.settings.out_dir / MANIFEST).stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError:
            stamp = None
        if stamp is None or stamp != self._stamp:
            self._topics = frozenset(topics(self.settings)) if stamp is not None else frozenset()
            self._stamp = stamp
        return self._topics


def callback_host(callback: str) -> str:
    """The host a callback URL points at (lower-case): what caps and rate limits count by."""
    return (urlsplit(callback).hostname or "").lower()


def content_type(topic: str) -> str:
    """The media type of a topic's feed, from its extension."""
    return feed_media_type(urlsplit(topic).path) or "application/octet-stream"


def parse_request(
    fields: Iterable[tuple[str, str]], settings: Settings, known_topics: Collection[str]
) -> HubRequest:
    """Check a hub request's form fields (the callback's address is checked separately)."""
    values: dict[str, str] = {}
    for key, value in fields:
        if key.startswith("hub."):
            if key in values:
                raise HubRequestError(f"{key} is given twice")
            values[key] = value
    mode = values.get("hub.mode", "")
    if mode not in ("subscribe", "unsubscribe"):
        raise HubRequestError("hub.mode must be subscribe or unsubscribe")
    topic = values.get("hub.topic", "")
    if topic not in known_topics:
        raise HubRequestError("hub.topic is not a feed published here")
    callback = values.get("hub.callback", "")
    if not callback:
        raise HubRequestError("hub.callback is required")
    try:
        netguard.parse_target(callback)
    except UnsafeURLError as exc:
        raise HubRequestError(f"hub.callback: {exc}") from exc
    lease = settings.websub_lease_seconds
    if "hub.lease_seconds" in values:
        raw = values["hub.lease_seconds"].strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise HubRequestError("hub.lease_seconds must be a whole number of seconds")
        lease = int(raw)
    lease = max(MIN_LEASE, min(lease, settings.websub_max_lease_seconds))
    secret = values.get("hub.secret", "")
    if len(secret.encode("utf-8", "surrogatepass")) > MAX_SECRET_BYTES:
        raise HubRequestError(f"hub.secret must be at most {MAX_SECRET_BYTES} bytes")
    if not secret.isprintable():
        raise HubRequestError("hub.secret must be printable text (no control characters)")
    return HubRequest(mode, topic, callback, lease, secret)  # type: ignore[arg-type]


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


async def verify_intent(client: httpx.AsyncClient, request: HubRequest) -> bool:
    """Ask the callback to confirm: it must answer 2xx with exactly the random challenge."""
    challenge = secrets.token_urlsafe(24)
    params = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
    if request.mode == "subscribe":
        params["hub.lease_seconds"] = str(request.lease_seconds)
    try:
        response = await client.get(_with_query(request.callback, params))
    except (httpx.HTTPError, UnsafeURLError):
        return False
    return 200 <= response.status_code < 300 and response.content == challenge.encode("ascii")


def counts(engine: Engine) -> tuple[int, dict[str, int]]:
    """WebSub subscriptions in total and per callback host."""
    per_host: dict[str, int] = {}
    urls = subs.websub_callbacks(engine)
    for url in urls:
        host = callback_host(url)
        per_host[host] = per_host.get(host, 0) + 1
    return len(urls), per_host


def over_cap(settings: Settings, total: int, per_host: int) -> str | None:
    """Why one more subscription is refused (the caps), or ``None``."""
    if total >= settings.websub_max_subscriptions:
        return f"the hub holds its maximum of {settings.websub_max_subscriptions} subscriptions"
    if per_host >= settings.websub_max_per_host:
        return (f"the callback host holds its maximum of {settings.websub_max_per_host} "
                "subscriptions")
    return None


def apply(
    engine: Engine, request: HubRequest, *, now: dt.datetime, settings: Settings | None = None
) -> str | None:
    """Store a verified request: subscribe (or renew) or unsubscribe; the subscription id.
    A new subscription beyond the caps of ``settings`` is not stored (``None``)."""
    with engine.begin() as conn:
        if request.mode == "unsubscribe":
            subs.remove_websub(conn, request.callback, request.topic)
            return None
        if settings is not None and subs.find_websub(conn, request.callback,
                                                     request.topic) is None:
            host = callback_host(request.callback)
            urls = subs.websub_callbacks(conn)
            if over_cap(settings, len(urls),
                        sum(callback_host(url) == host for url in urls)) is not None:
                return None
        return subs.save_websub(
            conn, callback=request.callback, topic=request.topic, secret=request.secret,
            event_type=CONTENT_EVENT, expires=now + dt.timedelta(seconds=request.lease_seconds),
            now=now,
        )


def enqueue_feed_updates(
    conn: Connection, settings: Settings, written: Iterable[str], now: dt.datetime
) -> int:
    """Queue the new body of every rewritten feed for its active subscriptions; how many
    deliveries were made. Runs inside the sync's transaction; expired subscriptions are
    removed first."""
    subs.expire_websub(conn, now)
    base = site_url(settings.base_url)
    changed = {f"{base}/{path}": path for path in written if feed_media_type(path)}
    if not changed:
        return 0
    made = 0
    for topic, subscription_ids in sorted(subs.websub_topic_subscribers(conn, changed).items()):
        body = (settings.out_dir / changed[topic]).read_text(encoding="utf-8")
        event_id = outbox.add_event(conn, CONTENT_EVENT, body, now)
        made += outbox.add_deliveries(conn, event_id, CONTENT_EVENT, subscription_ids, now)
    return made


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value: ``sha256=`` and the hex HMAC of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def distribution_headers(
    topic: str, hub: str, secret: str, body: bytes, user_agent: str
) -> dict[str, str]:
    """The headers of a content distribution request."""
    headers: dict[str, Any] = {
        "content-type": f"{content_type(topic)}; charset=utf-8",
        "link": f'<{hub}>; rel="hub", <{topic}>; rel="self"',
        "user-agent": user_agent,
    }
    if secret:
        headers["x-hub-signature"] = signature(secret, body)
    return headers
