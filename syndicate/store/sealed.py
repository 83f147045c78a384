"""Secrets at rest: webhook and WebSub signing secrets encrypted in the database when the
operator gives a key.

The ``secret`` and ``previous_secret`` columns are :class:`SealedText`: with keys configured
(:func:`configure_secrets`, from ``secrets_key`` or ``secrets_key_file``), every value written is a
Fernet token (AES-128-CBC + HMAC-SHA256, from the maintained ``cryptography`` package)
prefixed ``fernet:``, and read back in clear. Several keys, newest first, make a
:class:`~cryptography.fernet.MultiFernet`: the first encrypts, any decrypts, so a key is
rotated by putting the new one first and keeping the old one listed until
:func:`reseal` (``syndicate db reseal``) has rewritten every secret with the new key.
Values written in clear before a key was set are still read, and sealed when rewritten.

Without a key, secrets are stored in clear; the service says so once at start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Engine

from ..errors import ConfigError, StoreError

PREFIX = "fernet:"
log = logging.getLogger("syndicate.store")
_state: dict[str, Any] = {"fernet": None, "warned": False}


def configure_secrets(keys: Sequence[str], *, warn: bool = False) -> None:
    """Encrypt secrets with ``keys`` (Fernet keys, newest first) from now on in this
    process; with none, store them in clear (and, with ``warn``, say so once)."""
    cleaned = [key.strip() for key in keys if key.strip()]
    if not cleaned:
        _state["fernet"] = None
        if warn and not _state["warned"]:
            _state["warned"] = True
            log.warning("webhook and WebSub secrets are stored in clear: set secrets_key or "
                        "secrets_key_file to encrypt them")
        return
    try:
        _state["fernet"] = MultiFernet([Fernet(key.encode("ascii")) for key in cleaned])
    except (ValueError, UnicodeEncodeError) as exc:
        raise ConfigError("setting secrets_key: each key must be a Fernet key (32 url-safe "
                          "base64 bytes; Fernet.generate_key())", name="secrets_key") from exc


def seal(value: str | None) -> str | None:
    """``value`` as stored: encrypted when a key is configured."""
    fernet = _state["fernet"]
    if value is None or fernet is None:
        return value
    return PREFIX + str(fernet.encrypt(value.encode("utf-8")).decode("ascii"))


def unseal(value: str | None) -> str | None:
    """A stored value in clear."""
    if value is None or not value.startswith(PREFIX):
        return value
    fernet = _state["fernet"]
    if fernet is None:
        raise StoreError("the stored secrets are encrypted: give the key (secrets_key or "
                         "secrets_key_file)")
    try:
        return str(fernet.decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8"))
    except InvalidToken as exc:
        raise StoreError("a stored secret does not decrypt with the configured keys "
                         "(secrets_key): was a key removed too early?") from exc


class SealedText(sa.types.TypeDecorator[str]):
    """Text that is encrypted at rest when a key is configured (see the module doc)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return seal(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return unseal(value)


def reseal(engine: Engine, table: sa.Table) -> int:
    """Rewrite every secret of ``table`` with the first configured key (after a rotation,
    or to encrypt secrets stored in clear); how many rows."""
    columns = [c for c in table.columns if isinstance(c.type, SealedText)]
    key = next(iter(table.primary_key.columns))
    count = 0
    with engine.begin() as conn:
        for row in conn.execute(sa.select(key, *columns)).all():
            values = {c.name: row._mapping[c.name] for c in columns}
            conn.execute(table.update().where(key == row[0]).values(**values))
            count += 1
    return count
