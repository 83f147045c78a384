"""Standard Webhooks signing and the retry policy: what an attempt carries, and what its
outcome decides.

Signatures: ``v1`` (HMAC-SHA256 with the subscriber's ``whsec_`` secret) or, for a
subscription that asked for asymmetric signatures, ``v1a`` (Ed25519 with its ``whsk_`` key,
verified by the partner with the ``whpk_`` public key the API gives out: the partner keeps no
shared secret).

Retry schedule (Svix's, with +/-10 % jitter): immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
10 h, 10 h (the ``retry_schedule`` setting replaces it); then the delivery is dead
(``syndicate deliveries retry`` revives it). ``Retry-After`` is honoured on 429 and 503; a
3xx is a failure (redirects are never followed); 410 Gone disables the subscriber. Written
here by hand because the policy is the product: Standard Webhooks fixes the signature, not
when to try again.

Pure: an attempt's outcome in, a decision out.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email.utils
import functools
import hashlib
import hmac
import random
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .events import VERIFY_EVENT
from .queue import Claim, Decision
from .subscribers import SIGNING_KEY_PREFIX

SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Seconds to wait before attempt n+1 (``SCHEDULE[0]`` is the first attempt: immediately)."""
JITTER = 0.1
MAX_RETRY_AFTER = 24 * 3600.0
RETRY_AFTER_STATUSES = (429, 503)
"""Answers whose ``Retry-After`` header sets the next attempt's time."""
USER_AGENT = "Syndicate-Webhooks/1"


PUBLIC_KEY_PREFIX = "whpk_"
"""The public key that verifies ``v1a`` signatures, given to the partner."""


@functools.lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


@functools.lru_cache(maxsize=4096)
def _signing_key(secret: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(
        base64.b64decode(secret.removeprefix(SIGNING_KEY_PREFIX)))


def public_key(secret: str) -> str | None:
    """The ``whpk_`` public key of a ``whsk_`` signing key (``None`` for a shared secret)."""
    if not secret.startswith(SIGNING_KEY_PREFIX):
        return None
    raw = _signing_key(secret).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks signature of ``id.timestamp.body``: ``v1,<base64 HMAC-SHA256>``
    with a ``whsec_`` secret, ``v1a,<base64 Ed25519 signature>`` with a ``whsk_`` key."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    if secret.startswith(SIGNING_KEY_PREFIX):
        return "v1a," + base64.b64encode(_signing_key(secret).sign(signed)).decode()
    key = _key(secret)
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


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """What came back from one attempt."""

    status: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None
    challenge_ok: bool = False
    response: str | None = None
    """The first bytes of the answer's body (:data:`RESPONSE_EXCERPT`), as text."""


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
    claim: Claim, attempt: Attempt, now: dt.datetime, rng: random.Random,
    schedule: Sequence[float] = SCHEDULE,
) -> Decision:
    """Apply the retry policy (``schedule``, see ``SCHEDULE``) to one attempt."""
    status = attempt.status
    verify = claim.event_type == VERIFY_EVENT
    success = status is not None and 200 <= status < 300 and (attempt.challenge_ok or not verify)
    error = attempt.error
    if status is not None and not success and error is None:
        if 300 <= status < 400:
            error = f"redirect {status} not followed"
        elif verify and 200 <= status < 300:
            error = "challenge not echoed"
        else:
            error = f"HTTP {status}"
    base = Decision(claim, now, status, attempt.duration_ms, error, "pending", now,
                    response=attempt.response)
    if success:
        return dataclasses.replace(base, state="delivered", verified=verify)
    if status == 410:
        return dataclasses.replace(base, state="dead", disable="receiver answered 410 Gone")
    if claim.attempt >= len(schedule):
        return dataclasses.replace(base, state="dead")
    delay = schedule[claim.attempt]
    if attempt.retry_after is not None and status in RETRY_AFTER_STATUSES:
        delay = attempt.retry_after
    else:
        delay *= 1 + rng.uniform(-JITTER, JITTER)
    return dataclasses.replace(base, due_at=now + dt.timedelta(seconds=delay))
