"""Real services for tests and benchmarks: an ASGI app on a loopback port, a fresh PostgreSQL
schema, and a store seeded with due deliveries."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .._time import rfc3339
from ..errors import SyndicateError


@contextlib.contextmanager
def serve_asgi(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port in a thread; yield its base URL."""
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise SyndicateError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def seed_deliveries(
    engine: Any, urls: Sequence[str], events: int, *, now: dt.datetime, prefix: str = "load"
) -> dict[str, str]:
    """Active subscribers at ``urls`` and ``events`` events, each due now to every one of
    them (``len(urls) * events`` deliveries), written straight to the store for load tests
    and benchmarks; the subscribers' secrets by URL."""
    from .. import store
    from ..webhooks import outbox, subscribers
    from ..webhooks.events import encode

    secrets_by_url = {url: subscribers.new_secret() for url in urls}
    with engine.begin() as conn:
        subscribers.add_verified(conn, [
            (f"sub_{prefix}{index:05d}", url, secret)
            for index, (url, secret) in enumerate(secrets_by_url.items())
        ], now)
        rows = [
            {"id": f"msg_{prefix}{index:08d}", "type": "answer.reviewed",
             "answer_id": f"{index:016x}", "language": "en", "condition_slug": "lupus",
             "subscriber_id": None, "created_at": now, "full_payload": None,
             "payload": encode({"type": "answer.reviewed", "timestamp": rfc3339(now, "seconds"),
                                "data": {"answer_id": f"{index:016x}", "language": "en",
                                         "reviewed": "2026-06-01"}})}
            for index in range(events)
        ]
        conn.execute(store.events.insert(), rows)
        outbox.enqueue(conn, rows, subscribers.recipients(conn), now)
    return secrets_by_url


@contextlib.contextmanager
def postgres_schema(base: str, prefix: str = "syndicate_bench") -> Iterator[str]:
    """A fresh schema on the PostgreSQL server at ``base``; yields a URL that uses it.

    The URL's ``application_name`` is the schema's name, so the server's backends serving it
    can be told apart. The schema is dropped afterwards, retrying for up to 20 s while the
    server restarts (the chaos run restarts it).
    """
    import uuid

    import sqlalchemy as sa

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        admin = sa.create_engine(base)
        try:
            for _ in range(20):
                try:
                    with admin.begin() as conn:
                        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                    break
                except sa.exc.OperationalError:
                    time.sleep(1)
        finally:
            admin.dispose()


def service_env(workspace: Path, database_url: str, **extra: object) -> dict[str, str]:
    """The environment of a ``syndicate`` process over ``workspace`` and a database."""
    env = {
        **os.environ,
        "SYNDICATE_DATABASE_URL": database_url,
        "SYNDICATE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "SYNDICATE_BASE_URL": "https://answers.example",
        "SYNDICATE_CONTENT_DIR": str(workspace / "content"),
        "SYNDICATE_LOCALES_DIR": str(workspace / "locales"),
        "SYNDICATE_OUT_DIR": str(workspace / "public"),
        "SYNDICATE_STATE_DIR": str(workspace / "state"),
        "SYNDICATE_LOG_FORMAT": "json",
        "SYNDICATE_PORT": "0",
    }
    env.update({f"SYNDICATE_{key.upper()}": str(value) for key, value in extra.items()})
    return env
