"""Webhook subscribers: registration, filters, secrets, status and health.

The one writer of subscriber rows: registration and changes, health after deliveries
(:func:`settle`), WebSub subscriptions (:func:`save_websub`, :func:`expire_websub`) and
removal with all that hangs off a subscriber (:func:`remove`). A subscriber is a URL with
filters (languages, conditions, event types; empty means all), a secret and a status:

- ``pending``: registered, its URL not yet verified; it receives only ``endpoint.verify``,
  a signed event whose ``data.challenge`` it must echo as ``{"challenge": "..."}`` in a 2xx;
- ``active``: receives its events;
- ``paused``: events are queued for it and sent when it is resumed;
- ``disabled``: answered 410 Gone or failed for ``disable_after_days``; nothing is queued.

URLs are checked by :mod:`syndicate.webhooks.netguard` when registered (and again at every send).

A subscriber created through the API has an ``owner`` (the partner whose token created it);
WebSub subscriptions (:mod:`syndicate.webhooks.websub`) are subscribers of kind ``websub``
that never match answer events: they receive feed bodies for their ``topic``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import fnmatch
import json
import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._time import rfc3339
from ..errors import InputError, NotFoundError, StoreError
from ..store import any_of, attempts, deliveries, subscribers
from . import netguard, outbox
from .events import ANSWER_EVENTS, DISABLED_EVENT, REVIEW_EVENTS, VERIFY_EVENT, encode

SubscriberStatus = Literal["pending", "active", "paused", "disabled"]
Kind = Literal["webhook", "websub"]
SECRET_PREFIX = "whsec_"
SIGNING_KEY_PREFIX = "whsk_"
"""An Ed25519 signing key (Standard Webhooks ``v1a`` signatures), kept by the service in
place of a shared secret; :func:`syndicate.webhooks.policy.public_key` gives its public key."""
SUBSCRIBER_ID = re.compile(r"sub_[0-9a-f]{16}")
"""The shape of every subscriber id (``sub_`` and 16 hex digits); use ``fullmatch``."""
ROTATION_OVERLAP = dt.timedelta(hours=24)
"""How long the previous secret keeps signing after a rotation."""


@dataclasses.dataclass(frozen=True, slots=True)
class Subscriber:
    """A webhook endpoint and what it wants to hear about."""

    id: str
    url: str
    languages: tuple[str, ...]
    conditions: tuple[str, ...]
    event_types: tuple[str, ...]
    full: bool
    """Send the whole rendition in ``data.rendition`` (thin payloads otherwise)."""
    status: SubscriberStatus
    created_at: dt.datetime
    secret: str = dataclasses.field(repr=False)
    previous_secret: str | None = dataclasses.field(default=None, repr=False)
    previous_secret_until: dt.datetime | None = None
    verified_at: dt.datetime | None = None
    failing_since: dt.datetime | None = None
    status_reason: str | None = None
    owner: str | None = None
    """The partner that created it through the API (``None``: an operator did)."""
    kind: Kind = "webhook"
    topic: str | None = None
    """WebSub only: the feed URL subscribed to."""
    lease_expires_at: dt.datetime | None = None
    """WebSub only: when the subscription ends unless renewed."""

    def wants(self, event_type: str, language: str | None, condition: str | None) -> bool:
        """Whether an event passes this subscriber's filters (never, for WebSub)."""
        if self.kind != "webhook":
            return False
        if self.languages and language not in self.languages:
            return False
        if self.conditions and condition not in self.conditions:
            return False
        if event_type in REVIEW_EVENTS:  # only to those who ask for them by name
            return event_type in self.event_types
        patterns = self.event_types or ANSWER_EVENTS
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)

    def signing_secrets(self, now: dt.datetime) -> tuple[str, ...]:
        """The secrets to sign with now: the current one, and the previous during rotation."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, without the secrets."""
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in {"secret", "previous_secret"}
        }
        for key, value in data.items():
            if isinstance(value, dt.datetime):
                data[key] = rfc3339(value, "seconds")
            elif isinstance(value, tuple):
                data[key] = list(value)
        return data


def new_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_signing_key() -> str:
    """A fresh ``whsk_`` Ed25519 signing key (its 32-byte seed, base64)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    return SIGNING_KEY_PREFIX + base64.b64encode(seed).decode("ascii")


def check_secret(secret: str) -> str:
    """Validate an operator-given secret; :class:`InputError` if it is not usable."""
    if secret.startswith(SIGNING_KEY_PREFIX):
        try:
            seed = base64.b64decode(secret[len(SIGNING_KEY_PREFIX):], validate=True)
        except ValueError as exc:
            raise InputError("a signing key is whsk_ followed by base64",
                             field="secret") from exc
        if len(seed) != 32:
            raise InputError("a signing key holds a 32-byte Ed25519 seed", field="secret")
        return secret
    if not secret.startswith(SECRET_PREFIX):
        raise InputError("a secret starts with whsec_", field="secret")
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError as exc:
        raise InputError("a secret is whsec_ followed by base64", field="secret") from exc
    if not 24 <= len(raw) <= 64:
        raise InputError("a secret holds 24 to 64 random bytes", field="secret")
    return secret


def _row(row: sa.Row[Any]) -> Subscriber:
    return Subscriber(
        id=row.id,
        url=row.url,
        languages=tuple(json.loads(row.languages)),
        conditions=tuple(json.loads(row.conditions)),
        event_types=tuple(json.loads(row.event_types)),
        full=bool(row.full),
        status=row.status,
        created_at=row.created_at,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_until=row.previous_secret_until,
        verified_at=row.verified_at,
        failing_since=row.failing_since,
        status_reason=row.status_reason,
        owner=row.owner,
        kind=row.kind,
        topic=row.topic,
        lease_expires_at=row.lease_expires_at,
    )


def add(
    engine: Engine,
    url: str,
    *,
    now: dt.datetime,
    allow_networks: Sequence[str] = (),
    languages: Sequence[str] = (),
    conditions: Sequence[str] = (),
    event_types: Sequence[str] = (),
    full: bool = False,
    secret: str | None = None,
    owner: str | None = None,
    verify: bool = True,
) -> Subscriber:
    """Register a subscriber (pending) and queue its ``endpoint.verify`` event (with
    ``verify=False`` the caller queues it later, :func:`queue_verification`: the API does
    once its response, which carries the secret, has been sent)."""
    netguard.check_url(url, netguard.parse_networks(allow_networks))
    secret = check_secret(secret) if secret else new_secret()
    subscriber_id = "sub_" + secrets.token_hex(8)
    with engine.begin() as conn:
        conn.execute(
            subscribers.insert().values(
                id=subscriber_id, url=url, languages=json.dumps(list(languages)),
                conditions=json.dumps(list(conditions)),
                event_types=json.dumps(list(event_types)), full=full, secret=secret,
                status="pending", created_at=now, updated_at=now, owner=owner,
            )
        )
        if verify:
            queue_verification(conn, subscriber_id, now)
    found = get(engine, subscriber_id)
    assert found is not None
    return found


def add_verified(
    conn: Connection, endpoints: Iterable[tuple[str, str, str]], now: dt.datetime
) -> None:
    """Store active subscribers whose URLs were verified elsewhere, in bulk: ``(id, url,
    secret)`` each, with no filters (load tests and benchmarks seed thousands this way)."""
    conn.execute(subscribers.insert(), [
        {"id": subscriber_id, "url": url, "languages": "[]", "conditions": "[]",
         "event_types": "[]", "full": False, "secret": secret, "status": "active",
         "created_at": now, "updated_at": now, "verified_at": now}
        for subscriber_id, url, secret in endpoints
    ])


def queue_verification(conn: Connection, subscriber_id: str, now: dt.datetime) -> str:
    """Queue a new ``endpoint.verify`` event with a random challenge; its id."""
    body = encode({
        "type": VERIFY_EVENT,
        "timestamp": rfc3339(now, "seconds"),
        "data": {"challenge": secrets.token_urlsafe(24), "subscriber_id": subscriber_id},
    })
    event_id = outbox.add_event(conn, VERIFY_EVENT, body, now, subscriber_id=subscriber_id)
    outbox.add_deliveries(conn, event_id, VERIFY_EVENT, [subscriber_id], now)
    return event_id


def _select(engine: Engine | Connection, query: sa.Select[Any]) -> list[Subscriber]:
    """The subscribers ``query`` selects, on a connection or a connection of its own."""
    if isinstance(engine, Connection):
        return [_row(row) for row in engine.execute(query)]
    with engine.connect() as conn:
        return [_row(row) for row in conn.execute(query)]


def get(engine: Engine | Connection, subscriber_id: str) -> Subscriber | None:
    """One subscriber, or ``None`` (also for a string that is not a subscriber id)."""
    if not SUBSCRIBER_ID.fullmatch(subscriber_id):
        return None
    found = _select(engine, sa.select(subscribers).where(subscribers.c.id == subscriber_id))
    return found[0] if found else None


def require(engine: Engine, subscriber_id: str) -> Subscriber:
    """One subscriber, or :class:`NotFoundError` if there is none with that id."""
    if not SUBSCRIBER_ID.fullmatch(subscriber_id):
        raise StoreError(f"{subscriber_id!r} is not a subscriber id (sub_ and 16 hex digits)")
    found = get(engine, subscriber_id)
    if found is None:
        raise NotFoundError(f"no subscriber {subscriber_id!r}")
    return found


def list_all(engine: Engine | Connection) -> list[Subscriber]:
    """Every subscriber, oldest first."""
    return _select(engine, sa.select(subscribers)
                   .order_by(subscribers.c.created_at, subscribers.c.id))


def set_status(
    engine: Engine, subscriber_id: str, status: SubscriberStatus, *, now: dt.datetime,
    reason: str | None,
) -> Subscriber:
    """Pause, resume or disable a subscriber.

    Resuming a subscriber that never verified its URL queues a new verification instead of
    activating it.
    """
    current = require(engine, subscriber_id)
    with engine.begin() as conn:
        if status == "active" and current.verified_at is None:
            queue_verification(conn, subscriber_id, now)
            status = "pending"
        values: dict[str, Any] = {"status": status, "status_reason": reason, "updated_at": now}
        if status == "active":
            values["failing_since"] = None
        conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(values))
    return require(engine, subscriber_id)


def rotate_secret(
    engine: Engine, subscriber_id: str, *, now: dt.datetime, secret: str | None = None
) -> str:
    """Give a subscriber a new secret; the old one also signs for :data:`ROTATION_OVERLAP`."""
    current = require(engine, subscriber_id)
    if secret:
        fresh = check_secret(secret)
    elif current.secret.startswith(SIGNING_KEY_PREFIX):  # v1a stays v1a
        fresh = new_signing_key()
    else:
        fresh = new_secret()
    with engine.begin() as conn:
        conn.execute(
            subscribers.update().where(subscribers.c.id == subscriber_id).values(
                secret=fresh, previous_secret=current.secret,
                previous_secret_until=now + ROTATION_OVERLAP, updated_at=now,
            )
        )
    return fresh


def list_owned(engine: Engine, owner: str) -> list[Subscriber]:
    """The webhook subscribers a partner created, oldest first."""
    s = subscribers.c
    return _select(engine, sa.select(subscribers).where(s.owner == owner)
                   .where(s.kind == "webhook").order_by(s.created_at, s.id))


def update_filters(
    engine: Engine,
    subscriber_id: str,
    *,
    now: dt.datetime,
    languages: Sequence[str] | None = None,
    conditions: Sequence[str] | None = None,
    event_types: Sequence[str] | None = None,
    full: bool | None = None,
) -> Subscriber:
    """Change what a subscriber hears about; ``None`` leaves a filter as it is.

    Only events enqueued afterwards follow the new filters.
    """
    require(engine, subscriber_id)
    values: dict[str, Any] = {"updated_at": now}
    if languages is not None:
        values["languages"] = json.dumps(list(languages))
    if conditions is not None:
        values["conditions"] = json.dumps(list(conditions))
    if event_types is not None:
        values["event_types"] = json.dumps(list(event_types))
    if full is not None:
        values["full"] = full
    with engine.begin() as conn:
        conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(values))
    return require(engine, subscriber_id)


def remove(engine: Engine, subscriber_id: str) -> None:
    """Delete a subscriber with its deliveries and their attempts."""
    require(engine, subscriber_id)
    with engine.begin() as conn:
        _delete(conn, [subscriber_id])


def _delete(conn: Connection, ids: Collection[str]) -> None:
    """Delete subscribers with their deliveries and the deliveries' attempts."""
    if not ids:
        return
    delivery_ids = sa.select(deliveries.c.id).where(deliveries.c.subscriber_id.in_(list(ids)))
    conn.execute(attempts.delete().where(attempts.c.delivery_id.in_(delivery_ids)))
    conn.execute(deliveries.delete().where(deliveries.c.subscriber_id.in_(list(ids))))
    conn.execute(subscribers.delete().where(subscribers.c.id.in_(list(ids))))


def recipients(conn: Connection) -> list[Subscriber]:
    """The subscribers new events are queued for: active ones, and paused ones (whose
    events wait for them to resume)."""
    return [s for s in list_all(conn) if s.status in ("active", "paused")]


# -- health ----------------------------------------------------------------------------------


PG_RECOVERED = """UPDATE subscribers SET failing_since = NULL
WHERE id IN (SELECT json_array_elements_text(CAST(:recovered AS json)))
  AND failing_since IS NOT NULL"""
"""The end of a failing streak (a 2xx answer), as the last statement of a PostgreSQL data-
modifying ``WITH`` that carries the subscribers that answered as a JSON array in
``:recovered`` (the queue's one-statement record); :func:`settle` applies the same rule."""


def settle(
    conn: Connection, *, now: dt.datetime, disable_after: dt.timedelta,
    delivered: Collection[str] = (), failed: Collection[str] = (),
    verified: Collection[str] = (), disable: Mapping[str, str] | None = None,
) -> None:
    """Subscribers' health after a batch of attempts: a 2xx (``delivered``) ends a failing
    streak, an echoed challenge (``verified``) activates, a failure starts a streak, and a
    streak longer than ``disable_after`` or a reason in ``disable`` (a 410) disables."""
    s = subscribers.c
    dialect = conn.dialect.name
    if delivered:
        conn.execute(subscribers.update().where(any_of(s.id, delivered, dialect))
                     .where(s.failing_since.is_not(None)).values(failing_since=None))
    if verified:
        conn.execute(subscribers.update().where(any_of(s.id, verified, dialect))
                     .where(s.status == "pending")
                     .values(status="active", verified_at=now, updated_at=now))
    reasons = dict(disable or {})
    if failed:
        conn.execute(subscribers.update().where(any_of(s.id, failed, dialect))
                     .where(s.failing_since.is_(None))
                     .values(failing_since=now))
        too_long = conn.execute(
            sa.select(s.id, s.failing_since).where(any_of(s.id, failed, dialect))
            .where(s.status == "active")
            .where(s.failing_since <= now - disable_after)
        ).all()
        for row in too_long:
            reasons.setdefault(row.id, f"failing since {rfc3339(row.failing_since, 'seconds')}")
    for subscriber_id, reason in reasons.items():
        disable_subscriber(conn, subscriber_id, reason, now)


def disable_subscriber(conn: Connection, subscriber_id: str, reason: str,
                       now: dt.datetime) -> None:
    """Disable a subscriber and record a ``subscriber.disabled`` event saying why."""
    s = subscribers.c
    changed = conn.execute(
        subscribers.update().where(s.id == subscriber_id).where(s.status != "disabled")
        .values(status="disabled", status_reason=reason, updated_at=now)
    ).rowcount
    if not changed:
        return
    url = conn.execute(sa.select(s.url).where(s.id == subscriber_id)).scalar_one()
    outbox.add_event(conn, DISABLED_EVENT, encode({
        "type": DISABLED_EVENT, "timestamp": rfc3339(now, "seconds"),
        "data": {"subscriber_id": subscriber_id, "url": url, "reason": reason},
    }), now, subscriber_id=subscriber_id)


# -- WebSub subscriptions --------------------------------------------------------------------


def find_websub(conn: Connection, callback: str, topic: str) -> str | None:
    """The id of the WebSub subscription of ``callback`` to ``topic``, if there is one."""
    s = subscribers.c
    found = conn.execute(
        sa.select(s.id).where(s.kind == "websub").where(s.url == callback)
        .where(s.topic == topic)
    ).scalar()
    return str(found) if found is not None else None


def save_websub(conn: Connection, *, callback: str, topic: str, secret: str,
                event_type: str, expires: dt.datetime, now: dt.datetime) -> str:
    """Store a verified WebSub subscription, or renew the one ``callback`` has to ``topic``
    (new secret and lease, active again); its id."""
    existing = find_websub(conn, callback, topic)
    if existing is not None:
        conn.execute(subscribers.update().where(subscribers.c.id == existing).values(
            secret=secret, lease_expires_at=expires, status="active",
            updated_at=now, verified_at=now, failing_since=None, status_reason=None,
        ))
        return existing
    subscription_id = "ws_" + secrets.token_hex(8)
    conn.execute(subscribers.insert().values(
        id=subscription_id, url=callback, languages="[]", conditions="[]",
        event_types=json.dumps([event_type]), full=True, secret=secret,
        status="active", created_at=now, updated_at=now, verified_at=now, kind="websub",
        topic=topic, lease_expires_at=expires,
    ))
    return subscription_id


def remove_websub(conn: Connection, callback: str, topic: str) -> None:
    """Remove the WebSub subscription of ``callback`` to ``topic``, if any."""
    existing = find_websub(conn, callback, topic)
    _delete(conn, [existing] if existing else [])


def expire_websub(conn: Connection, now: dt.datetime) -> int:
    """Remove WebSub subscriptions whose lease has passed, with their deliveries; how many."""
    s = subscribers.c
    ids = list(conn.execute(
        sa.select(s.id).where(s.kind == "websub").where(s.lease_expires_at <= now)
    ).scalars())
    _delete(conn, ids)
    return len(ids)


def websub_callbacks(bind: Engine | Connection) -> list[str]:
    """The callback URL of every WebSub subscription (for the hub's caps)."""
    query = sa.select(subscribers.c.url).where(subscribers.c.kind == "websub")
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return list(conn.execute(query).scalars())
    return list(bind.execute(query).scalars())


def websub_topic_subscribers(conn: Connection, topics: Collection[str]) -> dict[str, list[str]]:
    """The active WebSub subscriptions to each of ``topics``, by topic."""
    s = subscribers.c
    rows = conn.execute(
        sa.select(s.id, s.topic).where(s.kind == "websub").where(s.status == "active")
        .where(s.topic.in_(list(topics)))
    ).all()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.topic, []).append(row.id)
    return found
