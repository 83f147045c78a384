"""The last value computed from folders of files, kept until a file in them changes.

Reading ``content/`` and ``locales/`` is slow next to a page (a thousand answer files, a
catalog per language); a ``stat`` of each file is not. :class:`FileCache` keeps the last
result per key and computes again only when a file's path, size or modification time
changed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class FileCache:
    """The last value computed from a folder, kept until a file in it changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], tuple[tuple[Any, ...], Any]] = {}

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

    def get(self, key: tuple[str, str], folders: Sequence[Path], compute: Callable[[], T]) -> T:
        """The cached value for ``key`` if its folders are unchanged, else ``compute()``."""
        return self.keyed(key, self.signature(*folders), compute)

    def clear(self) -> None:
        """Forget every value (what a new process starts from)."""
        with self._lock:
            self._values.clear()

    def keyed(self, key: tuple[str, str], signature: Any, compute: Callable[[], T]) -> T:
        """The cached value for ``key`` if ``signature`` is the one it was computed with,
        else ``compute()`` (kept with ``signature``)."""
        with self._lock:
            cached = self._values.get(key)
        if cached is not None and cached[0] == signature:
            value: T = cached[1]
            return value
        value = compute()
        with self._lock:
            self._values[key] = (signature, value)
        return value


CACHE = FileCache()
