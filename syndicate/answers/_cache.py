"""What localization already knows: parsed catalogs and renditions, kept between runs.

Localizing a corpus is a function of its inputs: the answer (every field of the parsed
file), the language's catalog (its bytes), the publisher and source language, and the code
(Syndicate's own source, the libraries that shape the output, the Python that runs it). A
sync every five minutes mostly finds all of them unchanged, so the results of the last run
are kept in ``<state_dir>/cache/``, one file per language:

- ``answers.pickle``: every answer file parsed (answer, problems), by path and the SHA-256
  of its bytes (parsing is a pure function of both);
- ``catalog-<language>.pickle``: the checked catalog, keyed by the SHA-256 of its file;
- ``renditions-<language>-<nn>.pickle`` (16 shards by answer id, so that one changed
  answer rewrites one shard): per answer, a digest of the :class:`~.content.Answer` it was
  made from (every field, :func:`answer_digest`) and its
  :class:`~.localize.Rendition` (or :class:`~.localize.Incomplete`), keyed by the catalog's
  digest, the publisher, the source language, whether a dose needs a recorded review of
  its translation (``require_translation_review``) and the code version.

A catalog is read and checked once, by whichever process localizes it (a worker, when
several languages have work): it keeps the checked catalog and the results here itself, and
the catalog's digest and the checks' findings where ``i18n status`` reads them
(:func:`.catalog_cache.record`).

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
import datetime as dt
import functools
import hashlib
import pickle
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .._files import write_atomic
from ..errors import CatalogError
from .catalog_cache import known_checks, record
from .catalogs import CheckedMessages, LanguageCatalog, interface_catalog, read_catalog
from .content import DEFAULT_FUTURE_DAYS, Answer, Parsed, parse_files
from .localize import Incomplete, Rendition, localize

MAGIC = b"syndicate-cache 1\n"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
CODE = ("answers/**/*.py", "store/**/*.py", "__init__.py", "config.py", "errors.py",
        "metrics.py", "tags.py", "_time.py", "_files.py", "_pool.py")
"""The code that can shape localization, relative to the package: this stage and the layers
below it, which the import contracts keep it to (a test checks that every module importing
the stage loads is covered). Changing the webhooks, the publication or the console keeps
the cache; changing localization or what it stands on rebuilds it."""
LIBRARIES = ("babel", "markdown-it-py", "nh3", "feedgen", "lxml", "PyYAML")
"""Distributions whose version can change what localization and publication write."""

Result = Rendition | Incomplete
Results = dict[str, tuple[str, Result]]
"""Per answer id: the digest of the answer a result was made from, and the result."""


def answer_digest(answer: Answer) -> str:
    """A digest of every field of a parsed answer: equal digests, equal answers.

    The dataclass ``repr`` shows every field of the answer and its blocks (a test checks
    that none is left out of it)."""
    return hashlib.blake2b(repr(answer).encode("utf-8", "surrogatepass"),
                           digest_size=20).hexdigest()


SHARDS = 16
"""Each language's results are kept in this many files, so that a change to one answer
rewrites one of them, not all."""


def shard(answer_id: str) -> int:
    """The shard an answer's results are kept in."""
    return hashlib.blake2b(answer_id.encode("utf-8", "surrogatepass"), digest_size=2
                           ).digest()[0] % SHARDS


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the code that shapes localization: Syndicate's version, its files in
    :data:`CODE`, the versions of the libraries in :data:`LIBRARIES`, the Python version,
    and whether PyYAML uses libyaml. Computed once per process."""
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
    for path in sorted({path for pattern in CODE for path in PACKAGE_DIR.glob(pattern)}):
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

    def kept_catalog(self, path: Path, language: str, require_review: bool = True
                     ) -> tuple[LanguageCatalog, str] | None:
        """The checked catalog of ``language`` at ``path`` and its digest, if the cache
        holds it for the file's bytes now; else ``None`` (nothing is read but the file's
        digest)."""
        kept = self._path("catalog", language)
        if kept is None:
            return None
        try:
            digest = file_digest(path)
        except OSError:
            return None  # reading it says why
        found = _load(kept, (language, str(path), digest))
        if not isinstance(found, LanguageCatalog):
            return None
        return dataclasses.replace(found, require_review=require_review), digest

    def catalog(self, path: Path, language: str, require_review: bool = True,
                status_dir: Path | None = None) -> tuple[LanguageCatalog, str]:
        """The checked catalog of ``language`` at ``path`` and the digest of the bytes it was
        read from: from the cache when it holds them, else read and checked once
        (:class:`CatalogError` as :func:`read_catalog` raises it) and kept, here and, with
        ``status_dir``, as the digest ``i18n status`` reads
        (:func:`.catalog_cache.record`), with the checks' findings of the last reading there
        reused for unchanged messages. The digest is empty when the file could not be read
        as bytes: then what was made from it must not be kept."""
        try:
            data = path.read_bytes()
        except OSError:  # read_catalog says why; if the file came back meanwhile, keep nothing
            return read_catalog(path, language, require_review=require_review), ""
        digest = hashlib.sha256(data).hexdigest()
        kept = self._path("catalog", language)
        key = (language, str(path), digest)
        if kept is not None:
            found = _load(kept, key)
            if isinstance(found, LanguageCatalog):
                return dataclasses.replace(found, require_review=require_review), digest
        checked = known_checks(status_dir, language) if status_dir is not None \
            else CheckedMessages()
        catalog = read_catalog(path, language, require_review=require_review, checked=checked,
                               data=data)
        self._save(kept, key, catalog)
        if status_dir is not None:
            record(status_dir, language, data, catalog, checked)
        return catalog, digest

    def parse_files(self, paths: list[Path], workers: int | None,
                    future_days: int = DEFAULT_FUTURE_DAYS) -> list[Parsed]:
        """:func:`.content.parse_files`, parsing only the files whose bytes the cache has not
        seen at the same path (``answers.pickle``) under the same date rules: how far ahead
        a review date may be depends on the setting and on today, so both are in the key."""
        rules = f"{future_days}/{dt.datetime.now(dt.UTC).date().isoformat()}"
        kept_path = None if self.root is None else self.root / "answers.pickle"
        found = _load(kept_path, "answers") if kept_path is not None else None
        kept: dict[str, tuple[str, Parsed]] = found if isinstance(found, dict) else {}
        parsed: list[Parsed | None] = []
        digests: dict[str, str] = {}
        todo: list[int] = []
        for index, path in enumerate(paths):
            try:
                digests[str(path)] = digest = f"{file_digest(path)}/{rules}"
            except OSError:  # parse_files tells what went wrong
                digest = ""
            entry = kept.get(str(path))
            if digest and entry is not None and entry[0] == digest:
                parsed.append(entry[1])
            else:
                parsed.append(None)
                todo.append(index)
        fresh = parse_files([paths[index] for index in todo], workers, future_days) \
            if todo else []
        for index, result in zip(todo, fresh, strict=True):
            parsed[index] = result
            with contextlib.suppress(OSError):  # kept only if unchanged while parsed
                if f"{file_digest(paths[index])}/{rules}" != digests.get(str(paths[index])):
                    digests.pop(str(paths[index]), None)
        complete = [result for result in parsed if result is not None]
        keep = {name: (digests[name], complete[n]) for n, name in enumerate(map(str, paths))
                if digests.get(name)}
        if kept_path is not None and (todo or keep.keys() != kept.keys()):
            self._save(kept_path, "answers", keep)
        return complete

    def _shards(self, language: str) -> list[Path | None]:
        return [None if self.root is None else
                self.root / f"renditions-{language}-{number:02d}.pickle"
                for number in range(SHARDS)]

    def results(self, language: str, key: object) -> Results:
        """The results kept for ``language`` under ``key`` (a shard that cannot be trusted
        counts as empty)."""
        merged: Results = {}
        for path in self._shards(language):
            found = _load(path, key) if path is not None else None
            if isinstance(found, dict):
                merged.update(found)
        return merged

    def keep(self, language: str, key: object, results: Mapping[str, tuple[str, Result]],
             kept: Results) -> None:
        """Keep ``results`` as the language's results under ``key``, rewriting only the
        shards that differ from ``kept`` (what :meth:`results` gave)."""
        new: list[Results] = [{} for _ in range(SHARDS)]
        old: list[Results] = [{} for _ in range(SHARDS)]
        for source, groups in ((results, new), (kept, old)):
            for answer_id, entry in source.items():
                groups[shard(answer_id)][answer_id] = entry
        for path, now, before in zip(self._shards(language), new, old, strict=True):
            if now != before:
                self._save(path, key, now)


def reuse(kept: Results, digests: Mapping[str, str], answers: Sequence[Answer]
          ) -> tuple[dict[str, Result], list[Answer]]:
    """The kept results still valid for ``answers``; the answers left to localize."""
    found: dict[str, Result] = {}
    todo: list[Answer] = []
    for answer in answers:
        entry = kept.get(answer.id)
        if entry is not None and entry[0] == digests[answer.id]:
            found[answer.id] = entry[1]
        else:
            todo.append(answer)
    return found, todo


@dataclasses.dataclass(frozen=True, slots=True)
class CachedLanguage:
    """One language localized with the cache: its catalog (or why it cannot be read), every
    answer's result in corpus order, and the answers localized afresh."""

    language: str
    catalog: LanguageCatalog | None
    error: CatalogError | None
    results: tuple[Result, ...]
    fresh: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageInputs:
    """What localizing one language depends on besides its catalog."""

    answers: Sequence[Answer]
    digests: Mapping[str, str]
    """:func:`answer_digest` of each answer, by id."""
    publisher: str
    source_language: str
    require_review: bool


def results_key(inputs: LanguageInputs, language: str, digest: str) -> tuple[object, ...]:
    """What a language's results are kept under (see the module doc)."""
    return (inputs.publisher, inputs.source_language, language, digest, inputs.require_review)


def localize_cached(
    cache: LocalizationCache, path: Path, language: str, inputs: LanguageInputs, *,
    status_dir: Path | None = None, known: tuple[LanguageCatalog, str, Results] | None = None,
) -> CachedLanguage:
    """Localize ``inputs.answers`` into ``language``, reusing what the cache holds and keeping
    what is made (in this process or in a worker: the catalog is read and checked once).

    ``known``: the catalog, its digest and the kept results, when the caller has them."""
    if known is None:
        try:
            catalog, digest = cache.catalog(path, language, inputs.require_review, status_dir)
        except CatalogError as exc:
            exc.language = language
            return CachedLanguage(language, None, exc, (), ())
        kept = cache.results(language, results_key(inputs, language, digest)) if digest else {}
    else:
        catalog, digest, kept = known
    found, todo = reuse(kept, inputs.digests, inputs.answers)
    for answer in todo:
        found[answer.id] = localize(answer, catalog, inputs.publisher)
    if digest and (todo or len(kept) != len(found)):
        cache.keep(language, results_key(inputs, language, digest),
                   {i: (inputs.digests[i], found[i]) for i in found}, kept)
    return CachedLanguage(language, interface_catalog(catalog, inputs.digests.keys()), None,
                          tuple(found[answer.id] for answer in inputs.answers),
                          tuple(answer.id for answer in todo))
