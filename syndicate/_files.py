"""Files that readers must never see half-written: one atomic-write contract for the tree,
the catalogs and the state files.

A file is replaced in two steps: the bytes go to a temporary file in the same folder (named
``.<name>.<pid>.<random>.tmp``, so nothing serves or reads it), which is flushed to disk;
then it is renamed over the target (atomic on POSIX) and the folder is flushed, so the rename
survives a crash. A reader sees the old file or the new one, never a mix. New files get mode
``0644`` less the umask, like any file a program creates.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MODE = 0o644
_TEMPORARY = re.compile(r"^\..+?\.(\d+)(?:\.[0-9a-f]{8})?\.tmp$")
"""``.<name>.<pid>.<random>.tmp`` (and the ``.<name>.<pid>.tmp`` of earlier versions)."""


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid <= 2**22  # someone else's live process (or an absurd pid: not alive)
    return True


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the temporary files under ``folder`` whose writing process no longer runs
    (killed mid-write); how many. Those of live processes (a concurrent build) are kept."""
    removed = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            found = _TEMPORARY.match(name) if name.endswith(".tmp") else None
            if found is None or _alive(int(found.group(1))):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(root, name))
                removed += 1
    return removed


def stage(target: Path, data: bytes, *, sync: bool = True) -> Path:
    """Write ``data`` to a new temporary file beside ``target``; flush it unless told not to.

    The caller renames it into place (``os.replace``) or removes it (:func:`discard`).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    os.close(fd)
    return temp


def write_atomic(target: Path, data: bytes, *, skip_unchanged: bool = False) -> bool:
    """Replace ``target`` with ``data`` (see the module doc); whether it was written.

    With ``skip_unchanged``, a file that already holds exactly ``data`` is left alone.
    """
    if skip_unchanged:
        with contextlib.suppress(OSError):
            if target.read_bytes() == data:
                return False
    temp = stage(target, data)
    try:
        os.replace(temp, target)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync(target.parent)
    return True


def fsync(path: Path) -> None:
    """Flush a file's bytes, or a folder's entries (so renames and deletions in it survive a
    crash), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs(folder: Path) -> bool:
    """Flush the whole file system holding ``folder`` (Linux ``syncfs``); False if there is
    no such call here. One call is cheaper than an fsync per file for large batches."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if call(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(folder))
    finally:
        os.close(fd)
    return True


def discard(temporaries: Iterable[Path]) -> None:
    """Remove temporary files that will not be renamed into place."""
    for temp in temporaries:
        with contextlib.suppress(OSError):
            temp.unlink()


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; empty when the file is missing, unreadable or not one."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
