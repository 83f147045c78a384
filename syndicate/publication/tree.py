"""Writing the publication tree: every changed file replaced atomically, or nothing at all.

A build is planned first (:func:`syndicate.publication.plan.plan_build`); here only the
files whose input key changed are rendered and written. Writing is in two phases: every
changed file is written to a temporary file in its folder and made durable (an fsync per
file, or for large batches one ``syncfs`` of the file system holding the tree, which must
not have other file systems mounted inside it); only then are they renamed into place
(``os.replace``), the folders fsynced, the new manifest written the same way, and files that
left the tree deleted. A failure in the first phase changes nothing; in the second, every
file is still whole (old or new) and the manifest is rewritten, when it can be, to describe
exactly what is on disk. Then the state for the next build is saved.

Each file's Last-Modified is the moment its bytes last changed, recorded here when they do
(:func:`modified_at`): a file whose bytes come out the same keeps the value it had, a changed
one gets the publication time, and always a later second than its previous value, so a
client polling with ``If-Modified-Since`` sees every change. It is never the date of an
entry: an answer reviewed in January and first published today changes the feed today.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._files import discard, fsync, remove_stale_temporaries, stage, syncfs, write_atomic
from .._time import utc_now
from ..answers import Localization, Progress
from ..config import Settings
from ..errors import FeedError, PublishError
from .layout import MANIFEST
from .manifest import FileRecord, http_date, manifest_bytes
from .plan import BuildPlan, LanguageReport, PlannedFile, plan_build
from .state import BuildState, prune_renditions, renditions_path, write_renditions

BATCH = 64
"""From this many staged files on, one ``syncfs`` replaces an fsync per file."""

Staged = tuple[Path, Path, str, FileRecord]
"""A file written beside its target: (temporary file, target, path in the tree, record)."""


@dataclasses.dataclass(frozen=True, slots=True)
class BuildResult:
    """The outcome of :func:`publish`."""

    languages: tuple[LanguageReport, ...]
    written: tuple[str, ...]
    unchanged: int
    deleted: tuple[str, ...]
    problems: tuple[str, ...]
    """Renditions refused by the feed checks (with answer and language)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "languages": [dataclasses.asdict(report) for report in self.languages],
            "written": len(self.written),
            "unchanged": self.unchanged,
            "deleted": list(self.deleted),
            "problems": list(self.problems),
        }


def publish(
    settings: Settings, localization: Localization, progress: Progress | None = None,
    *, now: dt.datetime | None = None,
) -> BuildResult:
    """Write the publication tree for ``localization``; see the module docstring.

    ``now``: the publication time, recorded as the Last-Modified of every file whose bytes
    change and as the published date of every entry that first appears (the real clock when
    not given)."""
    moment = (now or utc_now()).astimezone(dt.UTC).replace(microsecond=0)
    plan = plan_build(settings, localization, progress, moment)
    out = plan.out
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)  # what killed builds left behind
    kept = tuple(f"{lang}/" for lang in plan.broken)
    records = {path: record for path, record in plan.manifest.items()
               if path.startswith(kept)} if kept else {}
    keys = {path: key for path, key in plan.previous.keys.items()
            if path.startswith(kept)} if kept else {}
    staged, unchanged = _stage_changed(plan, records, keys, moment)
    written = _replace(plan, staged, records)
    deleted = sorted(path for path in plan.manifest if path not in records)
    for path in deleted:
        with contextlib.suppress(FileNotFoundError):
            (out / path).unlink()
    _prune(out, {(out / path).parent for path in deleted})
    _save_state(plan, keys)
    if progress:
        progress("write", len(plan.files), len(plan.files))
    return BuildResult(tuple(plan.reports), tuple(written), unchanged, tuple(deleted),
                       tuple(dict.fromkeys(plan.problems)))


def _stage_changed(plan: BuildPlan, records: dict[str, FileRecord], keys: dict[str, str],
                   moment: dt.datetime) -> tuple[list[Staged], int]:
    """Phase one: render every file whose key changed and stage it durably beside its target;
    ``records`` and ``keys`` get every file of the new tree. Nothing is replaced yet."""
    staged: list[Staged] = []
    unchanged = 0
    total = len(plan.files)
    out_name = os.fspath(plan.out)  # once: the check below runs for every file of the tree
    try:
        for number, planned in enumerate(plan.files, start=1):
            keys[planned.path] = planned.key
            record = _unchanged(plan, planned, out_name)
            if record is None:
                data = planned.produce()
                old = plan.manifest.get(planned.path)
                record = _record(planned, data, old, moment)
                target = plan.out / planned.path
                if old != record or not target.exists():
                    staged.append((stage(target, data, sync=False), target, planned.path,
                                   record))
                    if plan.progress and number % 500 == 0:
                        plan.progress("write", number, total)
                    continue
            records[planned.path] = record
            unchanged += 1
        _flush(staged, plan.out)
    except FeedError as exc:
        discard(temp for temp, *_ in staged)
        raise PublishError(f"cannot render: {exc}") from exc
    except OSError as exc:
        discard(temp for temp, *_ in staged)
        raise PublishError(f"cannot write {exc.filename}: {exc.strerror}",
                           path=str(exc.filename)) from exc
    return staged, unchanged


def _unchanged(plan: BuildPlan, planned: PlannedFile, out_name: str) -> FileRecord | None:
    """The file's record when its inputs did not change since the last build and it is
    still there: then it is neither rendered nor written."""
    old = plan.manifest.get(planned.path)
    if old is None or plan.previous.keys.get(planned.path) != planned.key:
        return None
    return old if os.path.exists(os.path.join(out_name, planned.path)) else None


def _record(planned: PlannedFile, data: bytes, old: FileRecord | None,
            moment: dt.datetime) -> FileRecord:
    """The manifest record of a file's new bytes: the old one when they did not change."""
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    if old is not None and old.etag == etag and old.content_type == planned.content_type \
            and old.size == len(data) and old.status == planned.status \
            and old.location == planned.location:
        return old
    return FileRecord(etag=etag, last_modified=http_date(modified_at(old, moment)),
                      content_type=planned.content_type, size=len(data), status=planned.status,
                      location=planned.location)


def modified_at(old: FileRecord | None, moment: dt.datetime) -> dt.datetime:
    """When a file whose bytes change at ``moment`` was last modified: ``moment``, or one
    second after its previous Last-Modified when that is not earlier (two changes in one
    second, or a clock set back), so the value only ever grows and ``If-Modified-Since``
    with the old value never matches the new bytes. The HTTP side never sends a value later
    than its own clock (RFC 9110 8.8.2.1) but compares with the recorded one."""
    previous = _parse_http_date(old.last_modified) if old is not None else None
    if previous is not None and previous >= moment:
        return previous + dt.timedelta(seconds=1)
    return moment


def _parse_http_date(value: str) -> dt.datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _flush(staged: list[Staged], out: Path) -> None:
    """Make every staged file durable before any is renamed into place."""
    if len(staged) >= BATCH and syncfs(out):
        return
    for temp, *_ in staged:
        fsync(temp)


def _replace(plan: BuildPlan, staged: list[Staged], records: dict[str, FileRecord]
             ) -> list[str]:
    """Phase two: rename every staged file into place, flush the folders, write the
    manifest; the paths written. On failure every file is still whole, and the manifest
    describes what is on disk when it can be written."""
    out = plan.out
    written: list[str] = []
    done: dict[str, FileRecord] = dict(plan.manifest)
    try:
        for temp, target, path, record in staged:
            os.replace(temp, target)
            written.append(path)
            done[path] = record
        for folder in sorted({target.parent for _, target, _, _ in staged}):
            fsync(folder)
        records.update({path: record for _, _, path, record in staged})
        write_atomic(out / MANIFEST, manifest_bytes(records), skip_unchanged=True)
    except OSError as exc:
        discard(temp for temp, *_ in staged[len(written):])
        with contextlib.suppress(OSError):
            write_atomic(out / MANIFEST, manifest_bytes(
                {path: done[path] for path in done if (out / path).exists()}))
        raise PublishError(f"cannot replace {exc.filename}: {exc.strerror}; "
                           f"{len(written)} of {len(staged)} files replaced, each whole",
                           path=str(exc.filename)) from exc
    return written


def _prune(out: Path, folders: Iterable[Path]) -> None:
    """Remove folders left empty by deleted files (never ``out`` itself)."""
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        while folder != out and out in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _save_state(plan: BuildPlan, keys: dict[str, str]) -> None:
    """Keep what the next build needs: the renditions of every language whose entries
    changed, and the build state."""
    out = plan.out
    for language, renditions in plan.chosen.items():
        before, now = _fingerprints(plan.previous, language), _fingerprints(plan, language)
        changed = {answer_id for answer_id in before.keys() | now.keys()
                   if before.get(answer_id) != now.get(answer_id)}
        if changed or not renditions_path(out, language).is_dir():
            write_renditions(out, language, renditions, changed)
    prune_renditions(out, plan.languages)
    BuildState(plan.languages, plan.archives, keys).write(out)


def _fingerprints(state: BuildState | BuildPlan, language: str) -> dict[str, str | None]:
    found = state.languages.get(language)
    return {k: e.fingerprint for k, e in found.entries.items()} if found is not None else {}
