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
LIBRARIES = ("babel", "markdown-it-py", "nh3", "feedgen", "lxml", "PyYAML")
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
        _files("content", settings.content_dir, "**/*.md"),
        _files("locales", settings.locales_dir, f"*/LC_MESSAGES/{DOMAIN}.po"),
    ]
    data = json.dumps(parts, default=str, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def _tree(out: Path) -> dict[str, Any] | None:
    """What must still be true of the tree for a recorded build to stand."""
    try:
        files = {name: _digest(out / name) for name in (MANIFEST, STATE)}
        store = out / STORE
        stored = {p.name: p.stat().st_size for p in sorted(store.glob("*.json"))} \
            if store.is_dir() else {}
    except OSError:
        return None
    return {"files": files, "store": stored}


def _intact(out: Path, record: dict[str, Any]) -> bool:
    if _tree(out) != record.get("tree"):
        return False
    for path, entry in read_manifest(out).items():
        try:
            if (out / path).stat().st_size != entry.size:
                return False
        except OSError:
            return False
    return True


def _read_record(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / RECORD).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == RECORD_VERSION else {}


def _replayed(record: dict[str, Any], files: int) -> BuildOutcome | None:
    summary = record.get("summary", {})
    try:
        reports = tuple(LanguageReport(**report) for report in summary["languages"])
        result = BuildResult(reports, (), files, (), tuple(summary["problems"]))
        return BuildOutcome(result, tuple(record["errors"]), tuple(record["warnings"]), True)
    except (KeyError, TypeError):
        return None


def build(
    settings: Settings, progress: Progress | None = None, *, workers: int | None = None
) -> BuildOutcome:
    """Localize and publish, unless nothing changed since the last build (then nothing)."""
    out = settings.out_dir
    fingerprint = inputs_fingerprint(settings)
    record = _read_record(out)
    if record.get("fingerprint") == fingerprint and _intact(out, record):
        outcome = _replayed(record, len(read_manifest(out)))
        if outcome is not None:
            return outcome
    with contextlib.suppress(FileNotFoundError):
        (out / RECORD).unlink()
    localization = localize_corpus(settings, progress=progress, workers=workers)
    result = publish(settings, localization, progress=progress)
    corpus = localization.corpus
    errors = [str(problem) for problem in corpus.errors]
    errors += [str(error) for error in localization.catalog_errors]
    outcome = BuildOutcome(result, tuple(errors), tuple(str(p) for p in corpus.warnings))
    tree = _tree(out)
    if tree is not None:
        data = {
            "version": RECORD_VERSION,
            "fingerprint": fingerprint,
            "tree": tree,
            "summary": {
                "languages": [dataclasses.asdict(report) for report in result.languages],
                "problems": list(result.problems),
            },
            "errors": list(outcome.errors),
            "warnings": list(outcome.warnings),
        }
        with contextlib.suppress(OSError):
            (out / RECORD).write_bytes(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    return outcome
