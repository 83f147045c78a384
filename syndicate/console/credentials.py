"""Who may use the console: operators' and translators' credentials, and signed-in sessions.

Partners sign in with their API token (:mod:`syndicate.http.tokens`). Operators and
translators have credentials of their own, created with ``syndicate console credential
create NAME --role operator|translator``, so that no partner token ever opens the operator
view. A credential reads ``syc_<id>_<secret>`` and is stored as the SHA-256 of the whole
text, like API tokens: shown once, compared in constant time.

A session is a random cookie value; the store keeps its SHA-256 (a database dump opens no
session), the role, who signed in, the session's CSRF token and its expiry. Signing out
deletes the row, so a copied cookie stops working at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import rfc3339
from ..errors import InputError, NotFoundError
from ..http import tokens as api_tokens
from ..store import api_tokens as api_tokens_table
from ..store import console_credentials, console_sessions

Role = Literal["partner", "operator", "translator"]
CREDENTIAL_ROLES: tuple[Role, ...] = ("operator", "translator")
PREFIX = "syc_"
_CREDENTIAL = re.compile(r"^syc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
SESSION_LIFETIME = dt.timedelta(hours=12)
"""A session ends 12 hours after sign-in (or at sign-out)."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Credential:
    """An operator's or translator's console credential, without its secret."""

    id: str
    name: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"id": self.id, "name": self.name, "role": self.role,
                "created_at": rfc3339(self.created_at, "seconds"),
                "revoked_at": rfc3339(self.revoked_at, "seconds") if self.revoked_at else None}


def _credential(row: sa.Row[Any]) -> Credential:
    return Credential(row.id, row.name, row.role, row.created_at, row.revoked_at)


def create_credential(engine: Engine, name: str, role: str, *,
                      now: dt.datetime) -> tuple[Credential, str]:
    """A new credential: the stored record and the credential itself (shown once)."""
    _check_name(name)
    if role not in CREDENTIAL_ROLES:
        raise InputError(f"{role!r} is not a console role: operator or translator", field="role")
    credential_id = secrets.token_hex(6)
    text = f"{PREFIX}{credential_id}_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        conn.execute(console_credentials.insert().values(
            id=credential_id, name=name, role=role, secret_hash=_digest(text), created_at=now))
    return Credential(credential_id, name, role, now), text


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", name):
        raise InputError(
            f"{name!r} is not a name: 1-64 lower-case letters, digits, '.', '_', '-'",
            field="name")


def list_credentials(engine: Engine) -> list[Credential]:
    """Every console credential, oldest first."""
    c = console_credentials.c
    with engine.connect() as conn:
        return [_credential(row) for row in conn.execute(
            sa.select(console_credentials).order_by(c.created_at, c.id))]


def revoke_credential(engine: Engine, credential_id: str, *, now: dt.datetime) -> Credential:
    """Revoke a credential and end its sessions; :class:`NotFoundError` if unknown."""
    c = console_credentials.c
    with engine.begin() as conn:
        conn.execute(console_credentials.update().where(c.id == credential_id)
                     .where(c.revoked_at.is_(None)).values(revoked_at=now))
        conn.execute(console_sessions.delete()
                     .where(console_sessions.c.credential_id == credential_id))
        row = conn.execute(sa.select(console_credentials).where(c.id == credential_id)).first()
    if row is None:
        raise NotFoundError(f"no console credential {credential_id!r}")
    return _credential(row)


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who a credential or token proves someone is."""

    role: Role
    name: str
    """The partner, operator or translator name."""
    credential_id: str


def authenticate(engine: Engine, text: str) -> Principal | None:
    """The principal a partner API token or a console credential names, or ``None``
    (malformed, unknown, wrong or revoked)."""
    text = text.strip()
    if text.startswith(api_tokens.PREFIX):
        token = api_tokens.authenticate(engine, text)
        return None if token is None else Principal("partner", token.partner, token.id)
    match = _CREDENTIAL.match(text)
    if match is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.select(console_credentials)
                           .where(console_credentials.c.id == match.group(1))).first()
    if row is None:
        hmac.compare_digest(_digest(text), "0" * 64)
        return None
    if not hmac.compare_digest(_digest(text), row.secret_hash) or row.revoked_at is not None:
        return None
    return Principal(row.role, row.name, row.id)


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session."""

    principal: Principal
    csrf: str
    expires_at: dt.datetime


def open_session(engine: Engine, principal: Principal, *, now: dt.datetime) -> tuple[str, Session]:
    """Start a session: the cookie value (never stored) and the session."""
    cookie = secrets.token_urlsafe(32)
    found = Session(principal, secrets.token_urlsafe(32), now + SESSION_LIFETIME)
    with engine.begin() as conn:
        conn.execute(console_sessions.delete().where(console_sessions.c.expires_at <= now))
        conn.execute(console_sessions.insert().values(
            id_hash=_digest(cookie), role=principal.role, principal=principal.name,
            credential_id=principal.credential_id, csrf=found.csrf, created_at=now,
            expires_at=found.expires_at))
    return cookie, found


def find_session(engine: Engine, cookie: str, *, now: dt.datetime) -> Session | None:
    """The live session a cookie value opens, or ``None``."""
    if not cookie or len(cookie) > 100:
        return None
    s = console_sessions.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(console_sessions).where(s.id_hash == _digest(cookie))
                           .where(s.expires_at > now)).first()
        if row is None:
            return None
        # A token or credential revoked since sign-in ends the session at once.
        if row.role == "partner":
            t = api_tokens_table.c
            live = sa.select(t.id).where(t.id == row.credential_id).where(t.revoked_at.is_(None))
        else:
            c = console_credentials.c
            live = sa.select(c.id).where(c.id == row.credential_id).where(c.revoked_at.is_(None))
        if conn.execute(live).first() is None:
            return None
    return Session(Principal(row.role, row.principal, row.credential_id), row.csrf,
                   row.expires_at)


def close_session(engine: Engine, cookie: str) -> None:
    """Sign out: the session's row is deleted."""
    with engine.begin() as conn:
        conn.execute(console_sessions.delete()
                     .where(console_sessions.c.id_hash == _digest(cookie)))
