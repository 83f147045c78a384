"""Worker processes for CPU-bound stages (answer parsing, localization)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_context(preload: str) -> multiprocessing.context.BaseContext:
    """How worker processes start: ``forkserver`` where there is one, else ``spawn``.

    Never a plain ``fork``: ``syndicate run`` has threads (HTTP server, scheduler, database
    pool), and forking a threaded process can copy a lock some other thread holds. The fork
    server imports ``preload`` (the caller's package) once, so workers start in milliseconds.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([preload])
        return context
    return multiprocessing.get_context("spawn")
