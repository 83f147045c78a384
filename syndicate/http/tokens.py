"""Partner API tokens: issued and revoked by operators, stored hashed.

A token reads ``syn_<id>_<secret>``: ``id`` (12 hex characters) is public and names the row;
``secret`` (32 random bytes, base64url) is shown once when the token is issued and never
stored. The store keeps the SHA-256 of the whole token; :func:`authenticate` finds the row by
id and compares digests in constant time, so neither a timing difference nor a database dump
gives a usable token away.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..errors import InputError, NotFoundError
from ..store import api_tokens

PREFIX = "syn_"
_TOKEN = re.compile(r"^syn_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_PARTNER = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclasses.dataclass(frozen=True, slots=True)
class ApiToken:
    """An issued API token, without its secret."""

    id: str
    partner: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "id": self.id,
            "partner": self.partner,
            "created_at": rfc3339(self.created_at, "seconds"),
            "revoked_at": rfc3339(self.revoked_at, "seconds") if self.revoked_at else None,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_partner(partner: str) -> str:
    """Validate a partner name; :class:`InputError` if it is not a short lower-case slug."""
    if not _PARTNER.match(partner):
        raise InputError(
            f"{partner!r} is not a partner name: 1-64 lower-case letters, digits, '.', '_', '-'",
            field="partner",
        )
    return partner


def _row(row: sa.Row[Any]) -> ApiToken:
    return ApiToken(row.id, row.partner, row.created_at, row.revoked_at)


def issue(engine: Engine, partner: str, *, now: dt.datetime) -> tuple[ApiToken, str]:
    """A new token for ``partner``: the stored record and the token itself (shown once)."""
    check_partner(partner)
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        conn.execute(api_tokens.insert().values(
            id=token_id, partner=partner, token_hash=_digest(token), created_at=now,
        ))
    return ApiToken(token_id, partner, now), token


def list_tokens(engine: Engine, *, partner: str | None = None) -> list[ApiToken]:
    """Every token (of ``partner``), oldest first."""
    query = sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
    if partner is not None:
        query = query.where(api_tokens.c.partner == partner)
    with engine.connect() as conn:
        return [_row(row) for row in conn.execute(query)]


def revoke(engine: Engine, token_id: str, *, now: dt.datetime) -> ApiToken:
    """Revoke a token (idempotent); :class:`NotFoundError` if there is none with that id."""
    with engine.begin() as conn:
        conn.execute(
            api_tokens.update().where(api_tokens.c.id == token_id)
            .where(api_tokens.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFoundError(f"no API token {token_id!r}")
    return _row(row)


def authenticate(engine: Engine, token: str) -> ApiToken | None:
    """The active token ``token`` is, or ``None`` (malformed, unknown, wrong or revoked)."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(api_tokens).where(api_tokens.c.id == match.group(1))
        ).first()
    if row is None:
        # Compare anyway so an unknown id takes as long as a wrong secret.
        hmac.compare_digest(_digest(token), "0" * 64)
        return None
    if not hmac.compare_digest(_digest(token), row.token_hash) or row.revoked_at is not None:
        return None
    return _row(row)
