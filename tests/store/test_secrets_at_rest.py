"""The state database holds webhook and hub secrets: its files are private to the service
and, with a key, the secrets in it are encrypted (Fernet, rotatable)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from syndicate import store
from syndicate.errors import StoreError
from syndicate.testing import FIXED_NOW
from syndicate.webhooks import subscribers as subs


@pytest.fixture(autouse=True)
def _clear_keys() -> Iterator[None]:
    yield
    store.configure_secrets([])


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_state_files_are_private(tmp_path: Path) -> None:
    """Before: syndicate.db and its WAL were 0644 in a 0755 folder."""
    os.umask(0o022)
    folder = tmp_path / "state"
    engine = store.open_engine(f"sqlite:///{folder / 'syndicate.db'}")
    subs.add(engine, "http://127.0.0.1:9/hook", now=FIXED_NOW, allow_networks=["127.0.0.0/8"])
    with engine.connect() as conn:  # the WAL and shm files exist while a connection is open
        conn.execute(sa.text("SELECT 1"))
        files = sorted(p.name for p in folder.iterdir())
        assert "syndicate.db-wal" in files
        assert {name: oct(_mode(folder / name)) for name in files} == {
            name: oct(0o600) for name in files}
    assert _mode(folder) == 0o700
    engine.dispose()


def _stored_secret(engine: sa.engine.Engine, subscriber_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql(
            "SELECT secret FROM subscribers WHERE id = ?"
            if engine.dialect.name == "sqlite" else
            "SELECT secret FROM subscribers WHERE id = %s", (subscriber_id,)).scalar_one())


def test_secrets_are_encrypted_with_a_key_and_rotate(database_url: str) -> None:
    engine = store.open_engine(database_url)
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    plain = subs.add(engine, "http://127.0.0.1:9/a", now=FIXED_NOW,
                     allow_networks=["127.0.0.0/8"])
    assert _stored_secret(engine, plain.id) == plain.secret  # no key: in clear
    store.configure_secrets([old])
    sealed = subs.add(engine, "http://127.0.0.1:9/b", now=FIXED_NOW,
                      allow_networks=["127.0.0.0/8"])
    raw = _stored_secret(engine, sealed.id)
    assert raw.startswith("fernet:") and sealed.secret not in raw
    assert subs.get(engine, sealed.id).secret == sealed.secret  # type: ignore[union-attr]
    assert subs.get(engine, plain.id).secret == plain.secret  # type: ignore[union-attr]
    # Rotation: the new key first, the old one still listed; reseal; drop the old key.
    store.configure_secrets([new, old])
    assert store.reseal(engine, store.subscribers) == 2
    store.configure_secrets([new])
    assert subs.get(engine, sealed.id).secret == sealed.secret  # type: ignore[union-attr]
    assert _stored_secret(engine, plain.id).startswith("fernet:")
    # A key removed too early, or none: a clear error, never a wrong secret.
    store.configure_secrets([old])
    with pytest.raises(StoreError, match="does not decrypt"):
        subs.get(engine, sealed.id)
    store.configure_secrets([])
    with pytest.raises(StoreError, match="encrypted"):
        subs.get(engine, sealed.id)
    engine.dispose()


def test_the_delivery_claim_signs_with_the_secret_in_clear(database_url: str) -> None:
    """The claim (one SQL statement on PostgreSQL) decrypts what it reads."""
    import datetime as dt

    from syndicate.webhooks import outbox
    from syndicate.webhooks.queue import claim

    store.configure_secrets([Fernet.generate_key().decode()])
    engine = store.open_engine(database_url)
    found = subs.add(engine, "http://127.0.0.1:9/a", now=FIXED_NOW,
                     allow_networks=["127.0.0.0/8"])
    with engine.begin() as conn:
        event = outbox.add_event(conn, "answer.reviewed", "{}", FIXED_NOW)
        outbox.add_deliveries(conn, event, "answer.reviewed", [found.id], FIXED_NOW)
    conn_update = store.subscribers.update().where(store.subscribers.c.id == found.id)
    with engine.begin() as conn:
        conn.execute(conn_update.values(status="active"))
    (claimed, *_) = [c for c in claim(engine, now=FIXED_NOW, limit=10,
                                      lease_until=FIXED_NOW + dt.timedelta(minutes=1),
                                      worker="w", room={}, cap=4)
                     if c.event_type == "answer.reviewed"]
    assert claimed.secrets == (found.secret,)
    engine.dispose()
