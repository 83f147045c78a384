"""Named leases in the state database: one scheduler leader, one run of a job at a time.

A lease is a row ``(name, holder, expires_at)``. Taking it succeeds when nobody holds it,
when its holder's time ran out, or when the caller already holds it (a renewal); it is one
conditional ``UPDATE`` (or an ``INSERT`` that ignores a conflict), so it works the same on
SQLite (``BEGIN IMMEDIATE`` serializes writers) and PostgreSQL (row locks), with no
home-made consensus. Expiry is compared with the caller's clock: hosts must keep their
clocks in step (NTP), which is a small fraction of any sensible lease.

:class:`Elector` keeps the ``scheduler`` lease for a ``syndicate run`` process: the leader
renews it every quarter of ``leader_lease`` and writes an expiry two thirds of
``leader_lease`` ahead, so a standby polling every quarter takes over within
``leader_lease`` of the leader's death. A leader that cannot renew in time (its database is
unreachable, or another process holds the lease) is deposed and stops scheduling before
its lease can have expired for the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._time import Clock
from ..store import insert_ignoring_duplicates, leases

LEADER = "scheduler"
"""The name of the scheduler leadership lease."""

log = logging.getLogger("syndicate.leases")


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a lease, since when and until when."""

    name: str
    holder: str
    acquired_at: dt.datetime
    expires_at: dt.datetime


def acquire(engine: Engine, name: str, holder: str, *, now: dt.datetime, ttl: float) -> bool:
    """Take or renew the lease ``name`` for ``ttl`` seconds; whether ``holder`` has it now."""
    until = now + dt.timedelta(seconds=ttl)
    c = leases.c
    with engine.begin() as conn:
        taken = conn.execute(
            leases.update()
            .where(c.name == name)
            .where(sa.or_(c.holder == holder, c.expires_at <= now))
            .values(
                holder=holder, expires_at=until,
                acquired_at=sa.case((c.holder == holder, c.acquired_at), else_=now),
            )
        ).rowcount
        if taken:
            return True
        exists = conn.execute(sa.select(c.holder).where(c.name == name)).first()
        if exists is not None:
            return False
        row = {"name": name, "holder": holder, "acquired_at": now, "expires_at": until}
        inserted = conn.execute(insert_ignoring_duplicates(conn, leases).values(row))
        return bool(inserted.rowcount)


def release(engine: Engine, name: str, holder: str) -> bool:
    """Give the lease back if ``holder`` has it; whether it did."""
    with engine.begin() as conn:
        gone = conn.execute(
            leases.delete().where(leases.c.name == name).where(leases.c.holder == holder)
        ).rowcount
    return bool(gone)


def current(engine: Engine, name: str) -> Lease | None:
    """The lease ``name`` as stored (possibly expired), or ``None``."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
    return None if row is None else Lease(row.name, row.holder, row.acquired_at, row.expires_at)


class Heartbeat:
    """Keep a lease renewed from a background thread while some work runs."""

    def __init__(
        self, engine: Engine, name: str, holder: str, *, ttl: float, clock: Clock
    ) -> None:
        self.engine, self.name, self.holder, self.ttl, self.clock = engine, name, holder, ttl, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease:{name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                acquire(self.engine, self.name, self.holder, now=self.clock(), ttl=self.ttl)
            except sa.exc.SQLAlchemyError as exc:  # the next beat tries again
                log.warning("cannot renew lease", extra={"lease": self.name, "error": str(exc)})


class Elector:
    """Campaign for the scheduler lease; call ``on_elected``/``on_deposed`` on changes.

    ``on_tick`` is called after every successful renewal while leading (the scheduler uses
    it to notice job-store changes made by other processes, such as ``jobs resume``).
    """

    def __init__(
        self,
        engine: Engine,
        holder: str,
        *,
        leader_lease: float,
        clock: Clock,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        on_tick: Callable[[], None] | None = None,
        name: str = LEADER,
    ) -> None:
        self.engine = engine
        self.holder = holder
        self.name = name
        self.poll = leader_lease / 4
        self.ttl = leader_lease * 2 / 3
        self.clock = clock
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.on_tick = on_tick
        self._leading = False
        self._renewed = 0.0  # time.monotonic() at the start of the last successful renewal
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._campaign, name="elector", daemon=True)

    @property
    def leading(self) -> bool:
        """Whether this process leads and its lease is certainly still valid."""
        with self._lock:
            return self._leading and time.monotonic() - self._renewed < self.ttl - self.poll

    def start(self) -> None:
        """Start campaigning (the first attempt is immediate)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop campaigning; a leader steps down and gives the lease back at once."""
        self._stop.set()
        self._thread.join()
        with self._lock:
            was = self._leading
            self._leading = False
        if was:
            self.on_deposed()
            try:
                release(self.engine, self.name, self.holder)
            except sa.exc.SQLAlchemyError as exc:  # it expires on its own
                log.warning("cannot release the leader lease", extra={"error": str(exc)})
            log.info("stepped down", extra={"holder": self.holder})

    def _campaign(self) -> None:
        while True:
            self.round()
            if self._stop.wait(self.poll):
                return

    def round(self) -> None:
        """One attempt to take or renew the lease, and its consequences."""
        started = time.monotonic()
        try:
            held = acquire(self.engine, self.name, self.holder, now=self.clock(), ttl=self.ttl)
            lost = not held
        except sa.exc.SQLAlchemyError as exc:
            log.warning("cannot reach the database for the leader lease",
                        extra={"error": str(exc)[:300]})
            held = False
            lost = time.monotonic() - self._renewed >= self.ttl - self.poll
        if held:
            with self._lock:
                self._renewed = started
                elected = not self._leading
                self._leading = True
            if elected:
                log.info("elected scheduler leader", extra={"holder": self.holder})
                try:
                    self.on_elected()
                except Exception:
                    log.exception("cannot start leading: stepping down",
                                  extra={"holder": self.holder})
                    with self._lock:
                        self._leading = False
                    with contextlib.suppress(sa.exc.SQLAlchemyError):
                        release(self.engine, self.name, self.holder)
            elif self.on_tick is not None:
                self.on_tick()
            return
        with self._lock:
            deposed = self._leading and lost
            if deposed:
                self._leading = False
        if deposed:
            log.warning("lost the scheduler lease: scheduling stops",
                        extra={"holder": self.holder})
            self.on_deposed()
