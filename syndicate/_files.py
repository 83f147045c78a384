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
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MODE = 0o644


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
