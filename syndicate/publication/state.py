"""What one build leaves for the next: the build state and the last published renditions.

``.syndicate-state.json`` (:class:`BuildState`) records, per language, every published entry
(its source file, when it first appeared, its fingerprint, its page and title), every
withdrawn one (when, and where its page was: it answers 410 and its feeds carry a tombstone
for a while), every page an answer moved away from (it answers 301), the feeds and when the
language last changed; the members of every RFC 5005 archive page; and the
input key of every file, so the next build renders and writes only files whose inputs
changed. ``.syndicate-renditions/<language>/`` keeps the renditions last published (in
:data:`SHARDS` files, by answer), so an answer whose file or translation broke stays in the
feeds with its last good version.

Both are read tolerantly: a missing, unreadable or hand-damaged file reads as empty (the
next build then redoes everything), never as an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from .._files import read_json, write_atomic
from ..answers import Rendition
from .layout import STATE, STORE
from .pages import FeedLink

STATE_VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class PublishedEntry:
    """One answer as a language last published it."""

    path: str
    """The answer's source file."""
    published: dt.datetime | None
    """When the entry first appeared in this language."""
    fingerprint: str | None
    """:func:`syndicate.publication.feeds.fingerprint` of the rendition published."""
    page: str
    """Its page, relative to the tree."""
    title: str


@dataclasses.dataclass(frozen=True, slots=True)
class WithdrawnEntry:
    """An answer a language published and no longer does."""

    when: dt.datetime
    """When the build that first left it out ran."""
    page: str
    """Its former page, relative to the tree (answers 410 Gone)."""
    title: str
    published: dt.datetime | None
    """When it had first appeared (kept should it come back)."""

    @property
    def condition_slug(self) -> str:
        """The condition folder its page was in."""
        parts = self.page.split("/")
        return parts[1] if len(parts) == 3 else ""


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageState:
    """One language as the last build published it."""

    direction: str
    entries: Mapping[str, PublishedEntry]
    """By answer id."""
    updated: dt.datetime | None
    """The newest entry's last change."""
    feeds: tuple[FeedLink, ...]
    withdrawn: Mapping[str, WithdrawnEntry] = dataclasses.field(default_factory=dict)
    """By answer id."""
    moved: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Pages an answer moved away from (its condition or slug changed): answer id by page."""


@dataclasses.dataclass(frozen=True, slots=True)
class BuildState:
    """Everything a build keeps for the next one (see the module doc)."""

    languages: Mapping[str, LanguageState] = dataclasses.field(default_factory=dict)
    archives: Mapping[str, tuple[tuple[str, ...], ...]] = dataclasses.field(default_factory=dict)
    """Entry ids of every archive page, oldest page first, by feed name."""
    keys: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The input key of every published file, by path."""

    @classmethod
    def read(cls, out_dir: Path) -> BuildState:
        """The state the last build left in ``out_dir`` (empty when there is none)."""
        data = read_json(out_dir / STATE)
        languages = {
            language: _language(value) for language, value in _mapping(data, "languages").items()
            if isinstance(value, dict)
        }
        archives = {
            name: tuple(tuple(str(entry) for entry in page) for page in pages
                        if isinstance(page, list))
            for name, pages in _mapping(data, "archives").items() if isinstance(pages, list)
        }
        keys = {path: key for path, key in _mapping(data, "keys").items()
                if isinstance(key, str)}
        return cls(languages, archives, keys)

    def to_bytes(self) -> bytes:
        """The state file's bytes (compact JSON, keys sorted)."""
        data = {
            "version": STATE_VERSION,
            "languages": {lang: _language_json(state) for lang, state in self.languages.items()},
            "archives": {name: [list(page) for page in pages]
                         for name, pages in self.archives.items()},
            "keys": dict(self.keys),
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    def write(self, out_dir: Path) -> None:
        """Replace the state file atomically (not when it already holds these bytes)."""
        write_atomic(out_dir / STATE, self.to_bytes(), skip_unchanged=True)


def _mapping(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _language(data: dict[str, Any]) -> LanguageState:
    entries = {
        answer_id: PublishedEntry(
            path=_text(entry.get("path")), published=_when(entry.get("published")),
            fingerprint=entry.get("fingerprint") if isinstance(entry.get("fingerprint"), str)
            else None,
            page=_text(entry.get("page")), title=_text(entry.get("title")),
        )
        for answer_id, entry in _mapping(data, "entries").items() if isinstance(entry, dict)
    }
    feeds: list[FeedLink] = []
    for link in data.get("feeds", []) if isinstance(data.get("feeds"), list) else []:
        with contextlib.suppress(TypeError):
            feeds.append(FeedLink(**link))
    withdrawn = {}
    for answer_id, entry in _mapping(data, "withdrawn").items():
        when = _when(entry.get("when")) if isinstance(entry, dict) else None
        if when is not None:
            withdrawn[answer_id] = WithdrawnEntry(when, _text(entry.get("page")),
                                                  _text(entry.get("title")),
                                                  _when(entry.get("published")))
    moved = {page: answer_id for page, answer_id in _mapping(data, "moved").items()
             if isinstance(answer_id, str)}
    return LanguageState(_text(data.get("direction"), "ltr"), entries,
                         _when(data.get("updated")), tuple(feeds), withdrawn, moved)


def _language_json(state: LanguageState) -> dict[str, Any]:
    """The JSON of a language's state; fields that are unknown are left out."""
    entries = {}
    for answer_id, entry in state.entries.items():
        fields = {"path": entry.path, "published": _iso(entry.published),
                  "fingerprint": entry.fingerprint, "page": entry.page, "title": entry.title}
        entries[answer_id] = {key: value for key, value in fields.items() if value is not None}
    data: dict[str, Any] = {"direction": state.direction, "entries": entries,
                            "feeds": [dataclasses.asdict(link) for link in state.feeds]}
    if state.updated is not None:
        data["updated"] = state.updated.isoformat()
    if state.withdrawn:
        data["withdrawn"] = {
            answer_id: {key: value for key, value in (
                ("when", entry.when.isoformat()), ("page", entry.page), ("title", entry.title),
                ("published", _iso(entry.published))) if value is not None}
            for answer_id, entry in state.withdrawn.items()
        }
    if state.moved:
        data["moved"] = dict(state.moved)
    return data


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- the last published renditions ----------------------------------------------------------


SHARDS = 16
"""Each language's renditions are kept in this many files, so that a change to one answer
rewrites one of them (about 60 KB at a thousand answers), not the whole language."""


def shard(answer_id: str) -> str:
    """The file (under the language's folder) an answer's rendition is kept in."""
    number = hashlib.blake2b(answer_id.encode("utf-8", "surrogatepass"),
                             digest_size=2).digest()[0] % SHARDS
    return f"{number:02d}.json"


def renditions_path(out_dir: Path, language: str) -> Path:
    """The folder where the renditions a language last published are kept."""
    return out_dir / STORE / language


def _whole_file(out_dir: Path, language: str) -> Path:
    """Where earlier versions kept a language's renditions, all in one file."""
    return out_dir / STORE / f"{language}.json"


def read_renditions(out_dir: Path, language: str) -> dict[str, Rendition]:
    """The renditions a language last published, by answer id (unreadable ones left out).

    A language kept whole by an earlier version is read too, its folder's files over it (a
    build that stopped while moving it to the folder)."""
    found = {}
    folder = renditions_path(out_dir, language)
    files = [_whole_file(out_dir, language), *sorted(folder.glob("*.json"))]
    for path in files:
        for answer_id, value in read_json(path).items():
            with contextlib.suppress(TypeError, ValueError, KeyError):
                found[answer_id] = Rendition.from_dict(value)
    return found


def write_renditions(out_dir: Path, language: str, renditions: Iterable[Rendition],
                     changed: Collection[str] | None = None) -> None:
    """Keep the renditions a language publishes now: every file holding an answer in
    ``changed`` (one whose rendition changed, or left), or every file (``None``)."""
    folder = renditions_path(out_dir, language)
    whole = _whole_file(out_dir, language)
    if whole.exists() or not folder.is_dir():
        changed = None  # from nothing, or from the earlier layout: every file
    by_shard: dict[str, dict[str, Any]] = {}
    for rendition in renditions:
        by_shard.setdefault(shard(rendition.answer_id), {})[rendition.answer_id] = rendition
    names = {shard(answer_id) for answer_id in changed} if changed is not None else None
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(names if names is not None else {f"{n:02d}.json" for n in range(SHARDS)}):
        held = by_shard.get(name)
        if held:
            data = {answer_id: r.to_dict() for answer_id, r in held.items()}
            write_atomic(folder / name, json.dumps(data, ensure_ascii=False,
                                                   sort_keys=True).encode())
        else:
            (folder / name).unlink(missing_ok=True)
    whole.unlink(missing_ok=True)


def prune_renditions(out_dir: Path, languages: Iterable[str]) -> None:
    """Forget the renditions of every language not in ``languages``."""
    keep = set(languages)
    store = out_dir / STORE
    for stale in sorted(store.iterdir()) if store.is_dir() else ():
        if stale.suffix == ".json" and stale.is_file() and stale.stem not in keep:
            stale.unlink()
        elif stale.is_dir() and stale.name not in keep:
            shutil.rmtree(stale)
