"""Whether anything changed since the last build or sync: its inputs, its tree, its store.

A build or a sync is a function of its inputs: the answer files, the catalogs, the settings
and the code (Syndicate's own files and the versions of the libraries that shape its
output). :class:`Inputs` is a fingerprint of all of them. Hashing every input file costs
well under a second at 1,000 answers in ten languages, and more at 10,000; a scan that is
given the stamps of the last one (size, modification and change times and digest of every
file) hashes again only the files whose size or times changed, or whose change time is too
close to the last scan to tell (git's "racy" rule), so an unchanged corpus is scanned in
milliseconds.

:class:`TreeStamp` is what must still be true of the publication tree for a recorded run to
stand (manifest and state files byte for byte, every kept rendition file with its size);
:func:`store_stamp` is the same for the state store (every stored rendition's version,
content hash and times). :class:`SyncRecord` keeps the three after a successful sync in
``<out>/.syndicate-sync.json``; the next sync that finds all three unchanged has nothing to
do (the diff would be empty and every file already written) and returns at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from importlib import metadata
from pathlib import Path
from stat import S_ISREG
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import __version__
from ._files import read_json, write_atomic
from .answers import DOMAIN
from .config import Settings
from .publication import MANIFEST, STATE, STORE, read_manifest
from .store import renditions

RECORD_VERSION = 1
SYNC_RECORD_VERSION = 1
PACKAGE_DIR = Path(__file__).resolve().parent
LIBRARIES = ("babel", "markdown-it-py", "nh3", "feedgen", "lxml", "PyYAML", "Jinja2")
"""Distributions whose version can change what a build writes."""
RACY_NS = 2_000_000_000
"""A file modified this close to the last scan (or later) is hashed again whatever its
stamp says: a second write within the file system's time resolution keeps the time."""
SYNC_RECORD = ".syndicate-sync.json"

Stamps = dict[str, list[Any]]
"""Per file (``<label>/<relative path>``): ``[size, mtime_ns, ctime_ns, sha256]``. The
change time is in it because no tool can set it back: a file replaced by one of the same
size with its modification time preserved (``cp -p``, ``rsync -t``) still counts as
changed."""


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _library_versions() -> list[tuple[str, str]]:
    found = []
    for name in LIBRARIES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, ""))
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Inputs:
    """Every input of a build or sync, as a fingerprint and the stamps of its files."""

    fingerprint: str
    stamps: Stamps
    scanned_ns: int
    """When the scan started (``time.time_ns``), for the racy rule of the next scan."""

    @classmethod
    def scan(cls, settings: Settings, since: Inputs | None = None) -> Inputs:
        """The inputs now; files unchanged since ``since`` are not hashed again."""
        import yaml  # the loader in use (libyaml or not) is part of the code

        scanned_ns = time.time_ns()
        stamps: Stamps = {}
        known = since.stamps if since is not None else {}
        racy = since.scanned_ns - RACY_NS if since is not None else 0

        def files(label: str, root: Path, pattern: str) -> list[tuple[str, str, str]]:
            if not root.is_dir():
                return [(label, "", "absent")]
            found = []
            for path in sorted(root.glob(pattern)):
                stat = path.stat()
                if not S_ISREG(stat.st_mode):
                    continue
                rel = path.relative_to(root).as_posix()
                old = known.get(f"{label}/{rel}")
                stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
                same = old is not None and old[:3] == stamp and stat.st_ctime_ns < racy
                sha = str(old[3]) if same and old is not None else digest(path)
                stamps[f"{label}/{rel}"] = [*stamp, sha]
                found.append((label, rel, sha))
            return found

        parts: list[Any] = [
            RECORD_VERSION,
            __version__,
            sys.version,
            bool(getattr(yaml, "__with_libyaml__", False)),
            _library_versions(),
            dataclasses.asdict(settings),
            files("code", PACKAGE_DIR, "**/*.py"),
            files("schemas", PACKAGE_DIR / "schemas", "*"),
            files("templates", PACKAGE_DIR / "publication" / "templates", "*"),
            files("content", settings.content_dir, "**/*.md"),
            files("locales", settings.locales_dir, f"*/LC_MESSAGES/{DOMAIN}.po"),
        ]
        data = json.dumps(parts, default=str, ensure_ascii=False, sort_keys=True)
        fingerprint = hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()
        return cls(fingerprint, stamps, scanned_ns)


def inputs_fingerprint(settings: Settings) -> str:
    """SHA-256 over everything a build's output depends on (see the module docstring)."""
    return Inputs.scan(settings).fingerprint


def sync_inputs(settings: Settings) -> Inputs:
    """The inputs of a sync now, hashing again only the files changed since the last sync's
    scan (when its record is there to trust): what the service asks at start-up."""
    record = SyncRecord.read(settings.out_dir)
    return Inputs.scan(settings, record.inputs if record is not None else None)


@dataclasses.dataclass(frozen=True, slots=True)
class TreeStamp:
    """What must still be true of the tree for a recorded build to stand: the digests of the
    manifest and state files, and the size of every kept rendition file."""

    files: dict[str, str]
    store: dict[str, int]

    @classmethod
    def of(cls, out: Path) -> TreeStamp | None:
        """The tree at ``out`` as it is now (``None`` when it cannot be read)."""
        try:
            files = {name: digest(out / name) for name in (MANIFEST, STATE)}
            store = out / STORE
            stored = {p.relative_to(store).as_posix(): p.stat().st_size
                      for p in sorted(store.rglob("*.json"))} if store.is_dir() else {}
        except OSError:
            return None
        return cls(files, stored)

    def intact(self, out: Path) -> bool:
        """Whether the tree at ``out`` is still as stamped, every published file there."""
        if TreeStamp.of(out) != self:
            return False
        for path, entry in read_manifest(out).items():
            try:
                if (out / path).stat().st_size != entry.size:
                    return False
            except OSError:
                return False
        return True


def store_stamp(engine: Engine) -> str:
    """A digest of every stored rendition's identity, version, content and times."""
    r = renditions.c
    query = sa.select(r.answer_id, r.language, r.version, r.content_hash, r.withdrawn,
                      r.source_path, r.first_published, r.updated
                      ).order_by(r.answer_id, r.language)
    hasher = hashlib.sha256()
    with engine.connect() as conn:
        for row in conn.execute(query):
            hasher.update(repr(tuple(row)).encode("utf-8", "surrogatepass"))
    return hasher.hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class SyncRecord:
    """A finished sync: its inputs, the store and the tree it left."""

    inputs: Inputs
    store: str
    tree: TreeStamp
    day: str = ""
    """The UTC day of the sync (ISO 8601): what a sync writes depends on it too."""

    @classmethod
    def read(cls, out: Path) -> SyncRecord | None:
        """The record the last sync left in ``out``; ``None`` if there is none to trust."""
        data = read_json(out / SYNC_RECORD)
        if data.get("version") != SYNC_RECORD_VERSION:
            return None
        try:
            inputs, tree = data["inputs"], data["tree"]
            return cls(
                Inputs(str(inputs["fingerprint"]), dict(inputs["stamps"]),
                       int(inputs["scanned_ns"])),
                str(data["store"]), TreeStamp(dict(tree["files"]), dict(tree["store"])),
                str(data.get("day", "")))
        except (KeyError, TypeError, ValueError):
            return None

    def write(self, out: Path) -> None:
        """Keep the record beside the tree (replaced atomically, like every file)."""
        data = {"version": SYNC_RECORD_VERSION, "inputs": dataclasses.asdict(self.inputs),
                "store": self.store, "tree": dataclasses.asdict(self.tree), "day": self.day}
        write_atomic(out / SYNC_RECORD, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def stands(self, inputs: Inputs, engine: Engine, out: Path, day: str = "") -> bool:
        """Whether nothing changed since: the same inputs, store, tree and day."""
        return (inputs.fingerprint == self.inputs.fingerprint and day == self.day
                and self.tree.intact(out)
                and store_stamp(engine) == self.store)
