"""The long-running processes: ``syndicate run`` (HTTP, scheduler, delivery) and
``syndicate worker`` (delivery only).

``run`` serves HTTP with uvicorn in-process (uvloop and httptools), campaigns for the
scheduler lease and, while it leads, runs APScheduler with the ``sync``, ``deliver`` and
``report`` jobs (the ``deliver`` job is the process's delivery worker: each tick sends
everything due). Any number of ``run`` processes may share a database: one leads, the
others serve HTTP and stand by. ``worker`` processes add delivery capacity; with
PostgreSQL they claim due deliveries with ``FOR UPDATE SKIP LOCKED`` and a lease.

Stopping (SIGTERM or SIGINT) is graceful: the HTTP server stops accepting and finishes its
requests; the delivery worker sends nothing new, finishes the requests in flight, records
them and gives back the deliveries it had claimed but not sent; the scheduler is shut down
after its running jobs end; the leader lease is given back so a standby takes over at once;
the database is closed. Everything waits at most ``shutdown_timeout`` seconds. A restart
resumes from the store: pending deliveries, the job store's next runs, the run history.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp

from .._time import Clock, process_name, utc_now
from ..config import Settings
from ..errors import ConfigError, StoreError
from ..http import create_app
from ..metrics import Metrics
from ..store import check_schema, configure_secrets
from ..webhooks import PinnedTransport, Worker, netguard
from .jobs import JobMetrics, JobRunner, TransportFactory
from .leases import Elector
from .schedule import Scheduler

log = logging.getLogger("syndicate.service")

def _event_loop_runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not available on Windows
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


@contextlib.contextmanager
def _signals(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> Iterator[None]:
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handler)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
                  b"content-length: 23\r\nconnection: close\r\n\r\n"
                  b"request head too large\n")


def bounded_http_protocol(max_head: int) -> type:
    """uvicorn's httptools protocol, refusing a request whose head (request line and
    headers) exceeds ``max_head`` bytes with 431 and closing the connection.

    httptools gathers a header's pieces until the header ends and has no bound of its own:
    one 200 MB header line to ``/healthz`` cost 56 s of CPU and 410 MB. Here bytes are
    counted as they arrive, until the head is complete, so at most ``max_head`` plus one
    read's worth is ever buffered.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.head_bytes = 0
            self.in_head = True

        def data_received(self, data: bytes) -> None:
            if self.in_head:
                self.head_bytes += len(data)
            super().data_received(data)
            if self.in_head and self.head_bytes > max_head and not self.transport.is_closing():
                self.transport.write(HEAD_TOO_LARGE)
                self.transport.close()

        def on_headers_complete(self) -> None:
            self.in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self.in_head, self.head_bytes = True, 0

    return BoundedHttpToolsProtocol


def _uvicorn_server(app: ASGIApp, settings: Settings) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn without its own signal handling: the service decides how to stop."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app, host=settings.host, port=settings.port,
        http=bounded_http_protocol(settings.max_header_bytes), lifespan="off",
        access_log=False, log_config=None, server_header=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout)),
    )
    return Server(config)


def bind(settings: Settings) -> socket.socket:
    """The listening socket on ``host:port``, bound before anything starts: an address in
    use (or not available here) is a :class:`ConfigError` naming it and the fix."""
    try:
        infos = socket.getaddrinfo(settings.host or None, settings.port,
                                   type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, IndexError) as exc:
        raise ConfigError(f"setting host: cannot listen on {settings.host!r}: {exc}; "
                          "choose another address (--host, SYNDICATE_HOST)", name="host") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        why = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used " \
            f"({exc.strerror})"
        raise ConfigError(
            f"setting port: {settings.host}:{settings.port} {why}: stop the other process "
            "or choose another port (--port, SYNDICATE_PORT)", name="port") from exc
    sock.set_inheritable(True)
    return sock


class RunProcess:
    """One ``syndicate run`` process."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        metrics: JobMetrics | None = None,
        transport: TransportFactory | None = None,
        announce: Callable[[str], None] = print,
        sock: socket.socket | None = None,
        resolver: netguard.Resolver | None = None,
        mounts: Mapping[str, Callable[[JobRunner], ASGIApp]] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.announce = announce
        self.sock = sock
        """The listening socket, if bound already (see :func:`bind`)."""
        configure_secrets(settings.secret_keys, warn=True)
        self.observed = Metrics()
        if transport is None and resolver is not None:
            def transport() -> PinnedTransport:
                return PinnedTransport.from_settings(settings, resolver=resolver)
        self.holder = process_name()
        self.runner = JobRunner(engine, settings, clock=clock,
                                metrics=metrics or self.observed.record_job_run,
                                observed=self.observed, transport=transport,
                                may_schedule=self._leading, host=self.holder)
        # Apps from layers above (the console) are built here, over this process's runner,
        # so that "run now" in them runs in this process like a scheduled tick.
        self.app: ASGIApp = create_app(
            settings, engine, ready=lambda: not self._closing, metrics=self.observed,
            resolver=resolver,
            mounts=[(path, build(self.runner)) for path, build in (mounts or {}).items()],
        )
        self.scheduler = Scheduler(engine, self.runner)
        self.elector = Elector(
            engine, self.holder, leader_lease=settings.leader_lease, clock=clock,
            on_elected=self._elected, on_deposed=lambda: self.scheduler.stop(wait=False),
            on_tick=self.scheduler.wakeup,
        )
        self._closing = False
        self._server: Any = None

    def _leading(self) -> bool:
        return self.elector.leading

    def _elected(self) -> None:
        if not self._closing:
            self.scheduler.start()

    def readiness(self) -> dict[str, Any]:
        """For ``/readyz``: the database answers at the schema this code expects (a
        database migrated by a newer release, or restored from an older one, is not
        ready); this process leads or stands by."""
        try:
            check_schema(self.engine)
            database, schema = True, True
        except StoreError:
            database, schema = True, False
        except sa.exc.SQLAlchemyError:
            database, schema = False, False
        role = "leader" if self.scheduler.running else "standby"
        return {"ready": database and schema and not self._closing, "database": database,
                "schema": schema, "scheduler": role}

    def request_stop(self) -> None:
        """Begin a graceful stop (the signal handler)."""
        if self._closing:
            if self._server is not None:
                self._server.force_exit = True
            return
        log.info("stopping", extra={"holder": self.holder})
        self._closing = True
        self.runner.stop()
        if self._server is not None:
            self._server.should_exit = True

    def run(self) -> None:
        """Serve until stopped, then stop gracefully (blocking)."""
        with _event_loop_runner() as runner:
            runner.run(self.serve())

    async def serve(self) -> None:
        """The process's life: start, serve until a signal, stop."""
        loop = asyncio.get_running_loop()
        sock = self.sock or bind(self.settings)
        self._server = server = _uvicorn_server(self.app, self.settings)
        with _signals(loop, self.request_stop):
            self.elector.start()
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not serving.done():
                await asyncio.sleep(0.02)
            if server.started:
                host, port = server.servers[0].sockets[0].getsockname()[:2]
                self.announce(f"syndicate: serving {self.settings.out_dir} on "
                              f"http://{host}:{port}/ (Ctrl-C to stop)")
                log.info("listening", extra={"host": host, "port": port})
            try:
                await serving
            finally:
                self._closing = True
                self.runner.stop()
                await self._shutdown()

    async def _shutdown(self) -> None:
        timeout = self.settings.shutdown_timeout
        try:
            await asyncio.wait_for(asyncio.to_thread(self.scheduler.stop, True), timeout)
        except TimeoutError:
            log.warning("jobs still running at shutdown", extra={"seconds": timeout})
        await asyncio.to_thread(self.elector.stop)
        self.engine.dispose()
        log.info("stopped", extra={"holder": self.holder})


DATABASE_OUTAGE_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError)
"""Errors of a database that is down or restarting (not of a bad query)."""
MAX_OUTAGE_BACKOFF = 30.0


async def _deliver_through_outages(worker: Any, stop: asyncio.Event, *,
                                   poll_interval: float) -> Any:
    """Run ``worker`` until ``stop``; when the database is unreachable, wait and start again.

    Results not yet recorded when the database went away are sent again once their claims
    expire (same ``webhook-id``): delivery stays at least once. Backs off 1, 2, 4 ... 30 s.
    """
    delay = 1.0
    while True:
        try:
            return await worker.run(until_idle=False, stop=stop, poll_interval=poll_interval)
        except DATABASE_OUTAGE_ERRORS as exc:
            if stop.is_set():
                raise
            log.warning("database unavailable: delivery paused", extra={
                "worker": worker.name, "error": type(exc).__name__, "retry_in": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, MAX_OUTAGE_BACKOFF)


class WorkerProcess:
    """One ``syndicate worker`` process: deliveries only, until stopped."""

    def __init__(self, settings: Settings, engine: Engine, *, clock: Clock = utc_now,
                 announce: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.announce = announce
        configure_secrets(settings.secret_keys, warn=True)

    def run(self) -> Any:
        """Deliver until SIGTERM/SIGINT; the worker's statistics."""
        with _event_loop_runner() as runner:
            return runner.run(self.serve())

    async def serve(self) -> Any:
        """Claim, send and record due deliveries until a signal; then stop gracefully."""
        settings = self.settings
        stop = asyncio.Event()
        transport = PinnedTransport.from_settings(settings)
        worker = Worker(self.engine, settings, transport, clock=self.clock, name=process_name())
        loop = asyncio.get_running_loop()
        with _signals(loop, stop.set):
            self.announce(f"syndicate worker {worker.name}: delivering (Ctrl-C to stop)")
            log.info("worker started", extra={"worker": worker.name})
            task = asyncio.create_task(_deliver_through_outages(
                worker, stop, poll_interval=min(1.0, settings.deliver_interval)))
            waiting = asyncio.create_task(stop.wait())
            await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            try:
                stats = await asyncio.wait_for(task, settings.shutdown_timeout)
            except TimeoutError:
                log.warning("deliveries still in flight at shutdown: their claims expire",
                            extra={"worker": worker.name})
                stats = None
            finally:
                worker.close()
                await transport.aclose()
                self.engine.dispose()
        log.info("worker stopped", extra={"worker": worker.name})
        return stats
