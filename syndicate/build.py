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
import json
from pathlib import Path

from ._files import read_json, write_atomic
from ._time import utc_now
from .answers import Progress, localize_corpus
from .config import Settings
from .incremental import TreeStamp, inputs_fingerprint
from .publication import BuildResult, LanguageReport, publish, read_manifest

RECORD = ".syndicate-build.json"
RECORD_VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class BuildOutcome:
    """What ``syndicate build`` reports: the publication result and the input problems."""

    result: BuildResult
    errors: tuple[str, ...]
    """Answer files and catalogs that could not be used, one line each."""
    warnings: tuple[str, ...]
    skipped: bool = False
    """Nothing changed since the last build: nothing was localized, rendered or written."""


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
        return self.tree.intact(out)

    def outcome(self, files: int) -> BuildOutcome:
        """What the recorded build reported, for a build that changes nothing."""
        result = BuildResult(self.languages, (), files, (), self.problems)
        return BuildOutcome(result, self.errors, self.warnings, True)


def build(
    settings: Settings, progress: Progress | None = None, *, workers: int | None = None
) -> BuildOutcome:
    """Localize and publish, unless nothing changed since the last build (then nothing)."""
    out = settings.out_dir
    # The day is an input too: overdue marks and the window of withdrawal notices move
    # with it, so a record from another (UTC) day never stands.
    fingerprint = f"{inputs_fingerprint(settings)}/{utc_now().date().isoformat()}"
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
