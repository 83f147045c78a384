"""The last value computed from folders of files, kept until a file in them changes.

Reading ``content/`` and ``locales/`` is slow next to a page (a thousand answer files, a
catalog per language); a ``stat`` of each file is not. :class:`FileCache` keeps the last
result per key and computes again only when a file's path, size or modification time
changed.

Checking a catalog a translator just saved can take seconds; a page cannot.
:meth:`FileCache.latest` answers at once with the last value and when it was made (or with
none, in a process that has not made one yet), computing the new one in the background
(one computation per key at a time): the page says its figures are being updated, and the
next load shows them. The computation runs in a worker process (:func:`in_worker`): in a
thread of the serving process it would hold the interpreter's lock for seconds at a time
and slow every other page and the API meanwhile.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

from .._pool import worker_context

T = TypeVar("T")
log = logging.getLogger("syndicate.console")
Runner = Callable[..., Any]
"""Runs ``func(*args)`` somewhere and returns what it returns."""


def in_worker(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a worker process of its own (``func`` and ``args`` pickled)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=worker_context(__package__ or "")
                             ) as pool:
        return pool.submit(func, *args).result()


def here(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in the calling thread."""
    return func(*args)


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    """A cached value, whether its files changed since, and when it was computed."""

    value: T | None
    """``None``: nothing computed yet (the first computation is under way)."""
    current: bool
    """``False``: a file changed since ``as_of``, and the new value is being computed."""
    as_of: float | None
    """When the value was computed (seconds since the epoch)."""
    error: str | None = None
    """Why the last computation failed, if it did (the value before it stays)."""


class FileCache:
    """The last value computed from a folder, kept until a file in it changes."""

    def __init__(self, runner: Runner = in_worker) -> None:
        self.runner = runner
        """Where :meth:`latest` computes (a worker process; tests may run it here)."""
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], tuple[Any, Any, float]] = {}
        self._running: dict[tuple[str, str], threading.Thread] = {}
        self._errors: dict[tuple[str, str], str] = {}

    @staticmethod
    def signature(*folders: Path) -> tuple[Any, ...]:
        """Every file's path, size and modification time under ``folders``."""
        found: list[tuple[str, int, int]] = []
        for folder in folders:
            for root, _dirs, files in os.walk(folder):
                for name in files:
                    path = os.path.join(root, name)
                    try:
                        info = os.stat(path)
                    except OSError:
                        continue
                    found.append((path, info.st_size, info.st_mtime_ns))
        return tuple(sorted(found))

    def clear(self) -> None:
        """Forget every value (what a new process starts from)."""
        with self._lock:
            self._values.clear()
            self._errors.clear()

    def settle(self) -> None:
        """Wait for every computation in the background to finish."""
        while True:
            with self._lock:
                running = list(self._running.values())
            if not running:
                return
            for thread in running:
                thread.join()

    def latest(self, key: tuple[str, str], signature: Any, compute: Callable[..., T],
               *args: Any) -> Snapshot[T]:
        """The value for ``key`` at once: current if ``signature`` is the one it was computed
        with; else the last one (or none yet), while ``compute(*args)`` runs in the
        background, through :attr:`runner`."""
        with self._lock:
            cached = self._values.get(key)
            error = self._errors.get(key)
            if cached is not None and cached[0] == signature:
                return Snapshot(cached[1], True, cached[2])
            if key not in self._running:
                running = threading.Thread(target=self._refresh, name=f"cache-{key[0]}",
                                           args=(key, signature, compute, args), daemon=True)
                self._running[key] = running
                running.start()
        if cached is None:
            return Snapshot(None, False, None, error)
        return Snapshot(cached[1], False, cached[2], error)

    def _refresh(self, key: tuple[str, str], signature: Any, compute: Callable[..., Any],
                 args: tuple[Any, ...]) -> None:
        try:
            value = self.runner(compute, *args)
            with self._lock:
                self._values[key] = (signature, value, time.time())
                self._errors.pop(key, None)
        except Exception as exc:  # the last value stays; the page says why it is not new
            log.warning("cannot compute %s: %s", key[0], exc)
            with self._lock:
                self._errors[key] = str(exc) or type(exc).__name__
        finally:
            with self._lock:
                self._running.pop(key, None)


CACHE = FileCache()
