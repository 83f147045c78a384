"""The whole build: localize and publish, or nothing at all when no input changed.

A build is a function of its inputs: the answer files, the catalogs, the settings and the code
(Syndicate's own files and the versions of the libraries that shape its output). After a build,
a fingerprint of those inputs is kept beside the publication state
(``<out>/.syndicate-build.json``) with the build's summary. The next build computes the
fingerprint again (hashing every input file: well under a second for a 1,000-answer corpus
in ten languages); when it matches and the tree is as that build left it (manifest and state
files byte for byte, every published file present with its size), localization and publication
are skipped and the recorded summary is returned. Anything else rebuilds, and the record is
removed first so an interrupted build is never taken for a finished one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from ._files import read_json, write_atomic
from .answers import DOMAIN, Progress, localize_corpus
from .config import Settings
from .publication import (
    MANIFEST,
    STATE,
    STORE,
    BuildResult,
    LanguageReport,
    publish,
    read_manifest,
)

RECORD = ".syndicate-build.json"
RECORD_VERSION = 1
PACKAGE_DIR = Path(__file__).resolve().parent
LIBRARIES = ("babel", "markdown-it-py", "nh3", "feedgen", "lxml", "PyYAML", "Jinja2")
"""Distributions whose version can change what a build writes."""


@dataclasses.dataclass(frozen=True, slots=True)
class BuildOutcome:
    """What ``syndicate build`` reports: the publication result and the input problems."""

    result: BuildResult
    errors: tuple[str, ...]
    """Answer files and catalogs that could not be used, one line each."""
    warnings: tuple[str, ...]
    skipped: bool = False
    """Nothing changed since the last build: nothing was localized, rendered or written."""


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _files(label: str, root: Path, pattern: str) -> list[tuple[str, str, str]]:
    if not root.is_dir():
        return [(label, "", "absent")]
    return [
        (label, path.relative_to(root).as_posix(), _digest(path))
        for path in sorted(root.glob(pattern))
        if path.is_file()
    ]


def _library_versions() -> list[tuple[str, str]]:
    found = []
    for name in LIBRARIES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, ""))
    return found


def inputs_fingerprint(settings: Settings) -> str:
    """SHA-256 over everything a build's output depends on (see the module docstring)."""
    import yaml  # the loader in use (libyaml or not) is part of the code

    parts: list[Any] = [
        RECORD_VERSION,
        __version__,
        sys.version,
        bool(getattr(yaml, "__with_libyaml__", False)),
        _library_versions(),
        dataclasses.asdict(settings),
        _files("code", PACKAGE_DIR, "**/*.py"),
        _files("schemas", PACKAGE_DIR / "schemas", "*"),
        _files("templates", PACKAGE_DIR / "publication" / "templates", "*"),
        _files("content", settings.content_dir, "**/*.md"),
        _files("locales", settings.locales_dir, f"*/LC_MESSAGES/{DOMAIN}.po"),
    ]
    data = json.dumps(parts, default=str, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


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
            files = {name: _digest(out / name) for name in (MANIFEST, STATE)}
            store = out / STORE
            stored = {p.name: p.stat().st_size for p in sorted(store.glob("*.json"))} \
                if store.is_dir() else {}
        except OSError:
            return None
        return cls(files, stored)


@dataclasses.dataclass(frozen=True, slots=True)
class BuildRecord:
    """A finished build: the fingerprint of its inputs, the tree it left, what it reported."""

    fingerprint: str
    tree: TreeStamp
    languages: tuple[LanguageReport, ...]
    problems: tuple[str, ...]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @classmethod
    def read(cls, out: Path) -> BuildRecord | None:
        """The record the last build left in ``out``; ``None`` if there is none to trust."""
        data = read_json(out / RECORD)
        if data.get("version") != RECORD_VERSION:
            return None
        try:
            summary, tree = data["summary"], data["tree"]
            return cls(
                str(data["fingerprint"]), TreeStamp(dict(tree["files"]), dict(tree["store"])),
                tuple(LanguageReport(**report) for report in summary["languages"]),
                tuple(summary["problems"]), tuple(data["errors"]), tuple(data["warnings"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def write(self, out: Path) -> None:
        """Keep the record beside the tree (replaced atomically, like every file)."""
        data = {
            "version": RECORD_VERSION,
            "fingerprint": self.fingerprint,
            "tree": dataclasses.asdict(self.tree),
            "summary": {
                "languages": [dataclasses.asdict(report) for report in self.languages],
                "problems": list(self.problems),
            },
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }
        write_atomic(out / RECORD, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def intact(self, out: Path) -> bool:
        """Whether the tree is still as this build left it, every published file there."""
        if TreeStamp.of(out) != self.tree:
            return False
        for path, entry in read_manifest(out).items():
            try:
                if (out / path).stat().st_size != entry.size:
                    return False
            except OSError:
                return False
        return True

    def outcome(self, files: int) -> BuildOutcome:
        """What the recorded build reported, for a build that changes nothing."""
        result = BuildResult(self.languages, (), files, (), self.problems)
        return BuildOutcome(result, self.errors, self.warnings, True)


def build(
    settings: Settings, progress: Progress | None = None, *, workers: int | None = None
) -> BuildOutcome:
    """Localize and publish, unless nothing changed since the last build (then nothing)."""
    out = settings.out_dir
    fingerprint = inputs_fingerprint(settings)
    record = BuildRecord.read(out)
    if record is not None and record.fingerprint == fingerprint and record.intact(out):
        return record.outcome(len(read_manifest(out)))
    with contextlib.suppress(FileNotFoundError):
        (out / RECORD).unlink()
    localization = localize_corpus(settings, progress=progress, workers=workers)
    result = publish(settings, localization, progress=progress)
    corpus = localization.corpus
    errors = [str(problem) for problem in corpus.errors]
    errors += [str(error) for error in localization.catalog_errors]
    outcome = BuildOutcome(result, tuple(errors), tuple(str(p) for p in corpus.warnings))
    tree = TreeStamp.of(out)
    if tree is not None:
        with contextlib.suppress(OSError):
            BuildRecord(fingerprint, tree, result.languages, result.problems, outcome.errors,
                        outcome.warnings).write(out)
    return outcome
