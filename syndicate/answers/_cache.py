"""What localization already knows: parsed catalogs and renditions, kept between runs.

Localizing a corpus is a function of its inputs: the answer (every field of the parsed
file), the language's catalog (its bytes), the publisher and source language, and the code
(Syndicate's own source, the libraries that shape the output, the Python that runs it). A
sync every five minutes mostly finds all of them unchanged, so the results of the last run
are kept in ``<state_dir>/cache/``, one file per language:

- ``catalog-<language>.pickle``: the checked catalog, keyed by the SHA-256 of its file;
- ``renditions-<language>.pickle``: per answer, a digest of the :class:`~.content.Answer`
  it was made from (every field, :func:`answer_digest`) and its
  :class:`~.localize.Rendition` (or :class:`~.localize.Incomplete`), keyed by the catalog's
  digest, the publisher, the source language and the code version.

An answer's result is reused only when the answer read now has the same digest as the one
it was made from, so nothing about a file can change unseen. Each file
starts with a magic line and the SHA-256 of its payload, and the payload carries its key: a
cache that is missing, truncated, corrupt, written by other code or for other inputs is
ignored (and rewritten), never used. Files are replaced atomically, so a crash leaves the
old file or the new one. The cache is private to the process that owns the state folder
(it is unpickled: it must not be writable by anyone the service does not trust).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import pickle
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from .._files import write_atomic
from .catalogs import LanguageCatalog, read_catalog
from .content import Answer
from .localize import Incomplete, Rendition

MAGIC = b"syndicate-cache 1\n"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
LIBRARIES = ("babel", "markdown-it-py", "nh3", "feedgen", "lxml", "PyYAML")
"""Distributions whose version can change what localization and publication write."""

Result = Rendition | Incomplete
Results = dict[str, tuple[str, Result]]
"""Per answer id: the digest of the answer a result was made from, and the result."""


def _canonical(value: object) -> object:
    """A dataclass as its type and every field, recursively (whatever the fields' ``repr``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                tuple(_canonical(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, tuple):
        return tuple(_canonical(item) for item in value)
    return value


def answer_digest(answer: Answer) -> str:
    """A digest of every field of a parsed answer: equal digests, equal answers."""
    return hashlib.blake2b(repr(_canonical(answer)).encode("utf-8", "surrogatepass"),
                           digest_size=20).hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the code that shapes localization: Syndicate's version and source files,
    the versions of the libraries in :data:`LIBRARIES`, the Python version, and whether
    PyYAML uses libyaml. Computed once per process."""
    import yaml

    from .. import __version__

    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}=")
    digest = hashlib.sha256()
    for part in (__version__, sys.version, str(getattr(yaml, "__with_libyaml__", False)),
                 *versions):
        digest.update(part.encode() + b"\0")
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        digest.update(file_digest(path).encode() + b"\0")
    return digest.hexdigest()


def _dump(key: object, data: object) -> bytes:
    payload = pickle.dumps((code_version(), key, data), protocol=pickle.HIGHEST_PROTOCOL)
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _load(path: Path, key: object) -> Any:
    """The data kept at ``path`` for ``key``; ``None`` when it cannot be trusted."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head = len(MAGIC) + 65
    if not raw.startswith(MAGIC) or len(raw) < head:
        return None
    payload = raw[head:]
    if raw[len(MAGIC):head] != hashlib.sha256(payload).hexdigest().encode() + b"\n":
        return None
    try:
        version, stored_key, data = pickle.loads(payload)
    except Exception:  # any unreadable cache is rebuilt, whatever the reason
        return None
    if version != code_version() or stored_key != key:
        return None
    return data


class LocalizationCache:
    """The cache under ``root`` (see the module doc); ``root=None`` keeps nothing."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, kind: str, language: str) -> Path | None:
        return None if self.root is None else self.root / f"{kind}-{language}.pickle"

    def _save(self, path: Path | None, key: object, data: object) -> None:
        if path is None:
            return
        # A cache that cannot be written only makes the next run slower.
        with contextlib.suppress(OSError):
            write_atomic(path, _dump(key, data))

    def catalog(self, path: Path, language: str) -> tuple[LanguageCatalog, str]:
        """The checked catalog of ``language`` at ``path`` and its digest: read from the cache
        when the file is unchanged, else read and checked (:class:`CatalogError` as
        :func:`read_catalog` raises it) and kept. The digest is empty when the file changed
        while it was read: then what was made from it must not be kept."""
        digest = file_digest(path)
        kept = self._path("catalog", language)
        key = (language, str(path), digest)
        if kept is not None:
            found = _load(kept, key)
            if isinstance(found, LanguageCatalog):
                return found, digest
        catalog = read_catalog(path, language)
        if file_digest(path) != digest:
            return catalog, ""
        self._save(kept, key, catalog)
        return catalog, digest

    def results(self, language: str, key: object) -> Results:
        """The results kept for ``language`` under ``key`` (empty when none can be trusted)."""
        path = self._path("renditions", language)
        found = _load(path, key) if path is not None else None
        return found if isinstance(found, dict) else {}

    def keep(self, language: str, key: object, results: Mapping[str, tuple[str, Result]]
             ) -> None:
        """Keep ``results`` as the language's results under ``key``."""
        self._save(self._path("renditions", language), key, dict(results))
