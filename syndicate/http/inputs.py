"""Hostile HTTP input for the API and the hub: bounded bodies, strict JSON, checked query
parameters, and the per-token rate limiter (body fields are checked by :mod:`.models`).

Everything here refuses with :class:`~syndicate.errors.ApiError` (a status, a code and a
message safe to show); nothing is stored before a request has passed all of it.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from starlette.requests import Request

from ..errors import ApiError


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit() and len(declared) <= 18):
            raise ApiError(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, "body_too_large", f"request bodies are limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"request bodies are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, limit: int, *, allow_empty: bool = False) -> dict[str, Any]:
    """A JSON object body: 415 unless JSON, 413 if too large, 400 if malformed, 422 if not
    an object."""
    body = await read_body(request, limit)
    if not body.strip() and allow_empty:
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        value = json.loads(
            body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # JSON nested thousands deep
        raise ApiError(400, "malformed_json", "the body is nested too deeply") from exc
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    return value


def query(request: Request, allowed: Collection[str]) -> dict[str, str]:
    """The query parameters, each at most once and all known (400 otherwise)."""
    found: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise ApiError(400, "unknown_parameter", f"unknown query parameter {key[:64]!r}")
        if key in found:
            raise ApiError(400, "invalid_parameter", f"{key} is given twice")
        found[key] = value
    return found


def query_int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within bounds."""
    raw = params.get(name)
    if raw is None:
        return default
    # isdigit() alone accepts "²" and other digits int() refuses, and int() refuses more
    # than 4,300 digits: ASCII digits of a sane length only.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18) or not low <= int(raw) <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be a number from {low} to {high}")
    return int(raw)


def query_match(params: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str | None:
    """An optional query parameter that must match ``pattern``."""
    raw = params.get(name)
    if raw is None:
        return None
    if not pattern.fullmatch(raw):
        raise ApiError(400, "invalid_parameter", f"{name} is not valid")
    return raw


class RateLimiter:
    """Token buckets in memory, one per key: ``rate`` per second, up to ``burst`` at once."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Spend one request for ``key``: 0 if allowed, else the seconds until it would be."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()  # a full bucket for everyone is the safe reset
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """The ``Retry-After`` value for a wait: whole seconds, at least 1."""
        return str(max(1, math.ceil(wait)))
