"""Shared fakes and factories for tests and benchmarks.

:func:`make_rendition` builds a complete :class:`~syndicate.localize.Rendition` with sensible
defaults; :func:`generate_corpus` writes a synthetic corpus (answer files and fully translated
catalogs with pseudo-translations that keep numbers, placeholders and markup) for benchmarks
and large tests; :func:`serve_asgi` runs an app on loopback; :class:`FixedClock` and
:class:`RecordingReceiver` drive and observe webhook delivery.

Sections are independent; each keeps its imports local where they are optional.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import write_po

from ._time import rfc3339
from .answers import ui
from .answers.catalogs import answer_messages, catalog_path
from .answers.content import Corpus, load_corpus
from .answers.localize import Labels, Rendition
from .tags import gettext_name

if TYPE_CHECKING:
    from aiohttp import web

FIXED_NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
"""A fixed clock for tests: nothing in Syndicate may depend on the real time."""


def make_labels(**overrides: Any) -> Labels:
    """Interface strings of a rendition, English by default."""
    values: dict[str, Any] = {
        "medically_reviewed": "Medically reviewed",
        "short_answer": "Short answer",
        "last_reviewed": "Last reviewed on April 6, 2026",
        "review_due": "Next review due on April 6, 2027",
        "reviewed_by": "Reviewed by Dr. Ana Núñez",
        "experiences": None,
        "disclaimer": "Medical Disclaimer: This information is for educational purposes only.",
        "attribution": "Source: DiseaseMaps",
        "read_original": "Read the answer on the publisher's site",
    }
    values.update(overrides)
    return Labels(**values)


def make_rendition(**overrides: Any) -> Rendition:
    """A complete rendition; any field can be overridden (``labels`` takes a dict too)."""
    answer_id = overrides.get("answer_id", "0123456789abcdef")
    labels = overrides.pop("labels", None)
    values: dict[str, Any] = {
        "answer_id": answer_id,
        "language": "en",
        "direction": "ltr",
        "condition": "Lupus",
        "condition_slug": "lupus",
        "slug": f"answer-{answer_id[:6]}",
        "title": "What causes Lupus?",
        "summary_html": "<p>The exact cause is not fully understood.</p>",
        "summary_text": "The exact cause is not fully understood.",
        "body_html": "<p>The exact cause is not fully understood.</p>\n<h2>Genes</h2>\n"
        "<p>Over 100 genetic variants contribute.</p>",
        "url": f"https://diseasemaps.example/lupus/answer-{answer_id[:6]}",
        "reviewed": dt.date(2026, 4, 6),
        "review_due": dt.date(2027, 4, 6),
        "reviewed_by": "Dr. Ana Núñez",
        "experiences": 0,
        "labels": make_labels(),
        "updated": dt.datetime(2026, 4, 6, tzinfo=dt.UTC),
        "source_hash": hashlib.sha256(answer_id.encode()).hexdigest(),
        "source_reviewed": dt.date(2026, 4, 6),
    }
    if isinstance(labels, Labels):
        values["labels"] = labels
    elif isinstance(labels, dict):
        values["labels"] = dataclasses.replace(values["labels"], **labels)
    values.update(overrides)
    return Rendition(**values)


# -- synthetic corpus ------------------------------------------------------------------------

CONDITIONS = (
    "Lupus", "Asthma", "Migraine", "Psoriasis", "Epilepsy", "Gout", "Anemia", "Eczema",
    "Glaucoma", "Scoliosis", "Sarcoidosis", "Fibromyalgia", "Hepatitis", "Tinnitus",
    "Vertigo", "Rosacea", "Celiac Disease", "Crohn Disease", "Multiple Sclerosis", "Narcolepsy",
)
LANGUAGES = ("es", "fr", "de", "ar", "zh-Hans", "pt", "it", "nl", "ru", "ja", "tr", "pl")
"""Target languages of the synthetic corpus, in the order they are taken."""

_SENTENCES = (
    "Researchers have identified over {n} genetic variants that contribute to susceptibility",
    "About {n} percent of people notice the first signs before the age of {m}",
    "Treatment usually combines medication, rest and regular check-ups every {n} months",
    "Symptoms can come and go, and **flares** may last from {n} days to several weeks",
    "A doctor will ask about family history and may order up to {n} different tests",
    "Exercise of about {n} minutes a day helps many people keep symptoms under control",
)
_VOWELS = str.maketrans("aeiouAEIOU", "áéíóúÁÉÍÓÚ")
_KEEP = re.compile(r"(\{[^}]*\}|https?://\S+|\]\([^)]*\)|`[^`]*`)")


def pseudo_translate(text: str, language: str) -> str:
    """A fake translation that keeps placeholders, URLs, link targets, code and numbers."""
    parts = _KEEP.split(text)
    out = [part if index % 2 else part.translate(_VOWELS) for index, part in enumerate(parts)]
    return f"[{language}] " + "".join(out)


def _paragraph(seed: int, sentences: int) -> str:
    chosen = []
    for k in range(sentences):
        template = _SENTENCES[(seed + k) % len(_SENTENCES)]
        chosen.append(template.format(n=(seed * 7 + k) % 90 + 10, m=(seed + k) % 30 + 20) + ".")
    return " ".join(chosen)


def answer_text(index: int, condition: str, body_bytes: int = 4000) -> tuple[str, str, str]:
    """``(answer id, slug, file text)`` of synthetic answer number ``index``."""
    answer_id = hashlib.sha256(f"answer-{index}".encode()).hexdigest()[:16]
    slug = f"question-{index:05d}"
    reviewed = dt.date(2024, 1, 1) + dt.timedelta(days=index % 850)
    lines = [
        "---",
        f"id: {answer_id}",
        f"condition: {condition}",
        f"question: What is question {index} about {condition}?",
        f"reviewed: {reviewed.isoformat()}",
        f"review_due: {(reviewed + dt.timedelta(days=365)).isoformat()}",
        "reviewed_by: Dr. Ana Núñez",
        f"experiences: {index % 40}",
        f"url: https://diseasemaps.example/{condition.lower().replace(' ', '-')}/{slug}",
        "status: published",
        "---",
        _paragraph(index, 3),
        "",
    ]
    section = 0
    while len("\n".join(lines).encode()) < body_bytes:
        section += 1
        lines += [f"## Part {section} of the answer", "", _paragraph(index + section, 4), ""]
        lines += [f"- {_paragraph(index + section + k, 1)}" for k in range(3)] + [""]
    return answer_id, slug, "\n".join(lines)


def write_catalog(
    locales_dir: Path,
    language: str,
    messages: list[tuple[str | None, str | tuple[str, str], str | tuple[str, ...]]],
    revised: dt.datetime = FIXED_NOW,
) -> Path:
    """Write a ``.po`` file from ``(context, msgid, translation)`` triples."""
    catalog = Catalog(
        locale=gettext_name(language), domain="syndicate", project="Syndicate",
        version="0.1", creation_date=revised, revision_date=revised, fuzzy=False,
    )
    for context, msgid, translation in messages:
        catalog.add(msgid, translation, context=context)
    path = catalog_path(locales_dir, language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(out, catalog, width=0, omit_header=False)
    return path


def translate_all(
    corpus: Corpus, language: str, translate: Any = pseudo_translate
) -> list[tuple[str | None, str | tuple[str, str], str | tuple[str, ...]]]:
    """Messages of every answer of ``corpus`` and every interface string, translated."""
    count = get_plural(gettext_name(language)).num_plurals
    messages: list[tuple[str | None, str | tuple[str, str], str | tuple[str, ...]]] = []
    seen: set[tuple[str | None, str]] = set()
    for answer in corpus.published:
        for message in answer_messages(answer):
            key = (message.context, message.text)
            if key not in seen:
                seen.add(key)
                messages.append((message.context, message.text,
                                 translate(message.text, language)))
    for source in ui.interface_messages():
        msgid = source if isinstance(source, str) else source[0]
        if (None, msgid) in seen:
            continue
        seen.add((None, msgid))
        if isinstance(source, tuple):
            forms = tuple(translate(source[min(k, 1)], language) for k in range(count))
            messages.append((None, source, forms))
        else:
            messages.append((None, source, translate(source, language)))
    return messages


def generate_corpus(
    root: Path,
    answers: int = 1000,
    languages: int = 10,
    conditions: int = 20,
    body_bytes: int = 4000,
) -> tuple[Path, Path, tuple[str, ...]]:
    """Write ``answers`` answer files and ``languages - 1`` fully translated catalogs.

    Returns ``(content_dir, locales_dir, target languages)``; the source language is ``en``
    and counts as one of ``languages``.
    """
    content_dir = root / "content"
    locales_dir = root / "locales"
    names = CONDITIONS[: max(1, min(conditions, len(CONDITIONS)))]
    for index in range(answers):
        condition = names[index % len(names)]
        folder = content_dir / condition.lower().replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        _, slug, text = answer_text(index, condition, body_bytes)
        (folder / f"{slug}.md").write_text(text, encoding="utf-8")
    targets = LANGUAGES[: max(0, languages - 1)]
    corpus = load_corpus(content_dir)
    for language in targets:
        write_catalog(locales_dir, language, translate_all(corpus, language))
    return content_dir, locales_dir, targets


# -- HTTP servers on loopback ----------------------------------------------------------------


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
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
# == Webhooks: fixed clock and recording receiver ==========================================
# A fixed clock to drive retry schedules, and a real HTTP server on 127.0.0.1 that records
# every webhook request and answers as programmed (status, headers, body, delay).


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        """Move the clock forward; the new time."""
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    """Seconds to wait before answering (a hanging receiver: a long delay)."""
    echo_challenge: bool = True
    """Answer ``endpoint.verify`` with ``{"challenge": ...}`` (when ``body`` is empty)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver got."""

    port: int
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    at: float
    """``time.monotonic()`` on arrival."""
    method: str = "POST"
    query: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header."""
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


class Receiver:
    """A recording webhook receiver: aiohttp on 127.0.0.1, in a background thread.

    Usable from synchronous tests, from ``asyncio.run`` and by subprocesses alike::

        with Receiver() as receiver:
            receiver.program("/hook", Reply(500), Reply(500), Reply(200))
            ...  # send to receiver.url("/hook")
            assert len(receiver.requests("/hook")) == 3
    """

    def __init__(self, ports: int = 1) -> None:
        self.port_count = ports
        self.ports: list[int] = []
        self._lock = threading.Lock()
        self._programs: dict[str, collections.deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._received: list[Received] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str = "/hook", index: int = 0) -> str:
        """The URL of ``path`` on the ``index``-th port."""
        return f"http://127.0.0.1:{self.ports[index]}{path}"

    def program(self, path: str, *replies: Reply, default: Reply | None = None) -> None:
        """Answer the next requests to ``path`` with ``replies``, then with ``default``."""
        with self._lock:
            self._programs[path] = collections.deque(replies)
            if default is not None:
                self._defaults[path] = default

    def requests(self, path: str | None = None) -> list[Received]:
        """Every request received (to ``path``), in arrival order."""
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests (to ``path``) arrived; whether they did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests(path)) >= count:
                return True
            time.sleep(0.01)
        return len(self.requests(path)) >= count

    def start(self) -> None:
        """Start listening (in a background thread)."""
        self._thread = threading.Thread(target=self._serve, name="receiver", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):  # pragma: no cover - a broken machine
            raise RuntimeError("receiver did not start")

    def stop(self) -> None:
        """Stop listening and join the thread."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        for _ in range(self.port_count):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.base_events.Server)
            self.ports.append(server.sockets[0].getsockname()[1])
        self._ready.set()
        await self._stopped.wait()
        await runner.cleanup()

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            queue = self._programs.get(path)
            if queue:
                return queue.popleft()
            return self._defaults.get(path, Reply())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        body = await request.read()
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        received = Received(
            port, request.path, {k.lower(): v for k, v in request.headers.items()}, body,
            time.monotonic(), request.method, dict(request.query),
        )
        with self._lock:
            self._received.append(received)
        reply = self._next_reply(request.path)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        content = reply.body
        if not content and reply.echo_challenge and 200 <= reply.status < 300:
            # WebSub verification of intent: echo hub.challenge from the query.
            challenge = request.query.get("hub.challenge")
            content = challenge.encode() if challenge is not None else _challenge_echo(body)
        return web.Response(status=reply.status, body=content, headers=dict(reply.headers))


def _challenge_echo(body: bytes) -> bytes:
    try:
        event = json.loads(body)
    except ValueError:
        return b""
    if isinstance(event, dict) and event.get("type") == "endpoint.verify":
        return json.dumps({"challenge": event["data"]["challenge"]}).encode()
    return b""


def webhook_ids(received: Iterable[Received]) -> collections.Counter[str]:
    """How many times each ``webhook-id`` arrived."""
    return collections.Counter(r.webhook_id for r in received)


def seed_deliveries(
    engine: Any, urls: Sequence[str], events: int, *, now: dt.datetime, prefix: str = "load"
) -> dict[str, str]:
    """Active subscribers at ``urls`` and ``events`` events, each due now to every one of
    them (``len(urls) * events`` deliveries), written straight to the store for load tests
    and benchmarks; the subscribers' secrets by URL."""
    from . import store
    from .webhooks import outbox, subscribers
    from .webhooks.events import encode

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


# -- PostgreSQL ----------------------------------------------------------------------------


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
