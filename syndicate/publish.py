"""Publication: write the feeds, pages, index and manifest under ``settings.out_dir``.

The tree::

    index.html, feeds.opml, manifest.json
    <lang>/index.html
    <lang>/feed.atom|.rss|.json               newest entries of the language
    <lang>/archive/<n>.atom|.rss|.json        RFC 5005 archives, oldest page is 1
    <lang>/<condition>/feed.atom|.rss|.json   the same per condition
    <lang>/<condition>/archive/<n>.*
    <lang>/<condition>/<slug>.html            one page per rendition

``manifest.json`` records for every file its strong ETag (SHA-256 of the bytes), Last-Modified
(its newest entry, never the build time), media type and size. A hidden state file keeps what
the next build needs: when each entry first appeared, archive page membership, and the input
key of every file, so files whose inputs did not change are neither rendered nor written; the
last published renditions are kept beside it, so an answer whose file or translation broke
stays in the feeds with its last good version.

Writing is in two phases: every changed file is written to a temporary file in its folder and
made durable (an fsync per file, or for large batches one ``syncfs`` of the file system holding
the tree, which must not have other file systems mounted inside it); only then are they
renamed into place (``os.replace``), the folders fsynced, the new manifest written the same
way, and files that left the tree deleted. A failure in the first phase changes nothing; in
the second, every file is still whole (old or new) and the manifest is rewritten, when it can
be, to describe exactly what is on disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import datetime as dt
import email.utils
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import feeds, pages, ui
from .catalogs import babel_locale
from .config import Settings
from .errors import FeedError, PublishError
from .localize import Rendition, mark_stale, translator_for
from .pipeline import Localization, Progress

MANIFEST = "manifest.json"
STATE = ".syndicate-state.json"
STORE = ".syndicate-renditions"
OUTPUT_VERSION = 1
"""Part of every input key: bump it when the rendered output changes for the same input."""
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class FileRecord:
    """What the manifest says about one published file."""

    etag: str
    last_modified: str
    content_type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class LanguageReport:
    """What a build did for one language."""

    language: str
    status: str
    """``published``, ``empty`` (nothing complete yet), ``broken`` (previous files kept
    untouched) or ``withdrawn`` (its files deleted)."""
    answers: int = 0
    incomplete: int = 0
    kept: int = 0
    """Entries republished from the last good version (broken file or translation)."""


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


@dataclasses.dataclass(slots=True)
class _Output:
    path: str
    key: str
    content_type: str
    last_modified: dt.datetime
    produce: Callable[[], bytes]
    document: feeds.Document | None = None
    """For a feed file: the document it renders."""


def http_date(value: dt.datetime) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate)."""
    return email.utils.format_datetime(value.astimezone(dt.UTC), usegmt=True)


def _key(*parts: Any) -> str:
    data = json.dumps([OUTPUT_VERSION, *parts], ensure_ascii=False, default=str)
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- files -----------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(target: Path, data: bytes, sync: bool = True) -> Path:
    """Write ``data`` to a temporary file beside ``target``; fsync it unless told not to."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
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


_BATCH = 64
"""From this many staged files on, one ``syncfs`` replaces an fsync per file."""


def _syncfs(folder: Path) -> bool:
    """Flush the file system holding ``folder`` (Linux ``syncfs``); False if unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(folder))
    finally:
        os.close(fd)
    return True


def _flush(staged: list[tuple[Path, Path, str, FileRecord]], out: Path) -> None:
    """Make every staged file durable before any is renamed into place."""
    if len(staged) >= _BATCH and _syncfs(out):
        return
    for temp, *_ in staged:
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically: temporary file, fsync, rename, fsync folder."""
    temp = _stage(target, data)
    try:
        os.replace(temp, target)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_dir(target.parent)


def _manifest_bytes(records: dict[str, FileRecord]) -> bytes:
    """``json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)`` plus a newline.

    Written out by hand: ``indent`` makes json use its pure-Python encoder, which took most
    of a rebuild with nothing to write. Strings go through json's own (C) string encoder;
    a test compares the bytes with ``json.dumps``.
    """
    if not all(type(record.size) is int and isinstance(record.etag, str)
               and isinstance(record.last_modified, str) and isinstance(record.content_type, str)
               for record in records.values()):
        # Whatever a hand-edited manifest held: the generic encoder.
        data = {"version": 1, "files": {path: records[path].to_dict() for path in sorted(records)}}
        return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
    string = _encode_string
    files = [
        f'  {string(path)}: {{\n   "content_type": {string(record.content_type)},\n'
        f'   "etag": {string(record.etag)},\n'
        f'   "last_modified": {string(record.last_modified)},\n'
        f'   "size": {int(record.size)!r}\n  }}'
        for path, record in sorted(records.items())
    ]
    body = "{\n" + ",\n".join(files) + "\n }" if files else "{}"
    return f'{{\n "files": {body},\n "version": 1\n}}\n'.encode()


_encode_string: Callable[[str], str] = (
    json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # type: ignore[attr-defined]
)


def read_manifest(out_dir: Path) -> dict[str, FileRecord]:
    """The manifest of the tree at ``out_dir`` (empty when there is none)."""
    files = _read_json(out_dir / MANIFEST).get("files", {})
    records = {}
    for path, record in files.items():
        with contextlib.suppress(TypeError):
            records[path] = FileRecord(**record)
    return records


# -- the build -------------------------------------------------------------------------------


class _Builder:
    """One run of :func:`publish`; holds the previous state and collects the outputs."""

    def __init__(self, settings: Settings, loc: Localization, progress: Progress | None) -> None:
        self.settings = settings
        self.loc = loc
        self.progress = progress
        self.out = settings.out_dir
        self.base = settings.base_url.rstrip("/")
        self.hub = f"{self.base}/websub"
        self.manifest = read_manifest(self.out)
        state = _read_json(self.out / STATE)
        self.prev_langs: dict[str, Any] = state.get("languages", {})
        self.prev_archives: dict[str, list[list[str]]] = state.get("archives", {})
        self.prev_keys: dict[str, str] = state.get("keys", {})
        self.outputs: list[_Output] = []
        self.problems: list[str] = []
        self.state_langs: dict[str, Any] = {}
        self.state_archives: dict[str, list[list[str]]] = {}
        self.stores: dict[str, dict[str, Rendition]] = {}
        self.kept: dict[str, int] = defaultdict(int)
        self.fingerprints: dict[tuple[str, str], str] = {}
        self.sources = {answer.id: answer.path for answer in loc.corpus.answers}

    # -- renditions ----------------------------------------------------------------------

    def _store(self, language: str) -> dict[str, Rendition]:
        if language not in self.stores:
            data = _read_json(self.out / STORE / f"{language}.json")
            found = {}
            for answer_id, value in data.items():
                with contextlib.suppress(TypeError, ValueError, KeyError):
                    found[answer_id] = Rendition.from_dict(value)
            self.stores[language] = found
        return self.stores[language]

    def _valid(self, rendition: Rendition) -> bool:
        try:
            feeds.check_rendition(rendition)
        except FeedError as exc:
            self.problems.append(str(exc))
            return False
        return True

    def renditions(self, language: str) -> list[Rendition]:
        """The renditions to publish: fresh ones, else the last good ones where allowed."""
        loc = self.loc
        failed_paths = {problem.path for problem in loc.corpus.errors}
        published = {answer.id: answer for answer in loc.corpus.published}
        incomplete = {i.answer_id for i in loc.incomplete if i.language == language}
        previous = self.prev_langs.get(language, {}).get("entries", {})
        chosen: dict[str, Rendition] = {}
        for rendition in loc.renditions.get(language, ()):
            fp = feeds.fingerprint(rendition)
            self.fingerprints[(language, rendition.answer_id)] = fp
            # Published before with the same fingerprint: it passed the checks then.
            seen = previous.get(rendition.answer_id, {}).get("fingerprint") == fp
            if seen or self._valid(rendition):
                chosen[rendition.answer_id] = rendition
        for answer_id, entry in previous.items():
            if answer_id in chosen:
                continue
            broken_file = entry.get("path") in failed_paths and answer_id not in published
            refused = answer_id in published and answer_id not in incomplete
            lagging = answer_id in published and answer_id in incomplete
            if not (broken_file or refused or lagging):
                continue
            old = self._store(language).get(answer_id)
            if old is None:
                continue
            if lagging:
                old = mark_stale(old, published[answer_id], loc.catalogs.get(language))
            if self._valid(old):
                chosen[answer_id] = old
                self.fingerprints[(language, answer_id)] = feeds.fingerprint(old)
                self.kept[language] += 1
        order = {answer.id: n for n, answer in enumerate(loc.corpus.answers)}
        return sorted(chosen.values(), key=lambda r: (order.get(r.answer_id, -1), r.answer_id))

    # -- outputs -------------------------------------------------------------------------

    def page_url(self, language: str, rendition: Rendition) -> str:
        return f"{self.base}/{language}/{rendition.condition_slug}/{rendition.slug}.html"

    def add(self, path: str, key: str, content_type: str, modified: dt.datetime,
            produce: Callable[[], bytes], document: feeds.Document | None = None) -> None:
        self.outputs.append(_Output(path, key, content_type, modified, produce, document))

    def add_feed(self, name: str, title: str, subtitle: str, language: str,
                 items: list[feeds.Item]) -> None:
        """The current document of feed ``name`` (``es/feed``) and its archives."""
        folder = name.rsplit("/", 1)[0]
        archive_name = f"{folder}/archive"
        frozen = self.prev_archives.get(name, [])
        plan = feeds.plan(items, self.settings.feed_size, frozen)
        self.state_archives[name] = [list(page) for page in plan.pages]
        updated = feeds.newest(items, _EPOCH)
        current_base = f"{self.base}/{name}"
        last = len(plan.archives)

        def document(
            base: str, page: tuple[feeds.Item, ...], page_updated: dt.datetime,
            current: str | None, prev: str | None, complete: bool,
        ) -> feeds.Document:
            return feeds.Document(
                feed_id=feeds.feed_id(name), language=language, title=title, subtitle=subtitle,
                publisher=self.settings.publisher, base=base,
                home_page_url=f"{self.base}/{language}/", hub_url=self.hub, items=page,
                updated=page_updated, current=current, prev_archive=prev, complete=complete,
            )

        docs = [(name, document(
            current_base, plan.current, updated, None,
            f"{self.base}/{archive_name}/{last}" if last else None, not last))]
        for number, page in enumerate(plan.archives, start=1):
            prev = f"{self.base}/{archive_name}/{number - 1}" if number > 1 else None
            docs.append((f"{archive_name}/{number}", document(
                f"{self.base}/{archive_name}/{number}", page, feeds.newest(page, updated),
                current_base, prev, False)))
        for path, doc in docs:
            key = _key(
                [doc.feed_id, doc.language, doc.title, doc.subtitle, doc.publisher, doc.base,
                 doc.home_page_url, doc.hub_url, doc.updated.isoformat(), doc.current,
                 doc.prev_archive, doc.complete],
                [self._item_key(item) for item in doc.items],
            )
            for fmt in feeds.FORMATS:
                self.add(path + feeds.EXTENSIONS[fmt], key, feeds.MEDIA_TYPES[fmt], doc.updated,
                         _renderer(doc, fmt), doc)

    def _item_key(self, item: feeds.Item) -> list[Any]:
        fp = self.fingerprints[(item.rendition.language, item.rendition.answer_id)]
        return [fp, item.link, item.published.isoformat(),
                [[t.language, t.url, t.title] for t in item.translations]]

    def language(self, language: str, renditions: list[Rendition],
                 translations: dict[str, list[feeds.Translation]]) -> pages.LanguageEntry | None:
        """Every output of one published language; its entry for the index."""
        previous = self.prev_langs.get(language, {}).get("entries", {})
        catalog = self.loc.catalogs.get(language)
        t = translator_for(catalog)
        publisher = self.settings.publisher
        entries: dict[str, Any] = {}
        items: list[feeds.Item] = []
        for rendition in renditions:
            fp = self.fingerprints[(language, rendition.answer_id)]
            before = previous.get(rendition.answer_id, {})
            published = (
                dt.datetime.fromisoformat(before["published"]) if "published" in before
                else rendition.updated.astimezone(dt.UTC)
            )
            link = self.page_url(language, rendition)
            others = tuple(tr for tr in translations[rendition.answer_id]
                           if tr.language != language)
            items.append(feeds.Item(rendition, link, published, others))
            path = f"{language}/{rendition.condition_slug}/{rendition.slug}.html"
            entries[rendition.answer_id] = {
                "path": self.sources.get(rendition.answer_id, before.get("path", "")),
                "published": published.isoformat(), "fingerprint": fp,
                "page": path, "title": rendition.title,
            }
            self.add(path, _key(fp, link, [[o.language, o.url, o.title] for o in others]),
                     "text/html; charset=utf-8", rendition.updated,
                     _page(rendition, others, link))
        if not items:
            return None
        subtitle = ui.feed_subtitle(t)
        feed_links = [pages.FeedLink(language, ui.feed_title(t, publisher),
                                     f"{self.base}/{language}/feed")]
        self.add_feed(f"{language}/feed", feed_links[0].title, subtitle, language, items)
        by_condition: dict[str, list[feeds.Item]] = defaultdict(list)
        for item in items:
            by_condition[item.rendition.condition_slug].append(item)
        for slug in sorted(by_condition):
            group = by_condition[slug]
            title = ui.condition_feed_title(t, publisher, group[0].rendition.condition)
            feed_links.append(pages.FeedLink(language, title,
                                             f"{self.base}/{language}/{slug}/feed"))
            self.add_feed(f"{language}/{slug}/feed", title, subtitle, language, group)
        direction = renditions[0].direction
        entry = pages.LanguageEntry(language, direction, _language_name(language),
                                    tuple(feed_links), len(items))
        listing = [(item.link, item.rendition.title) for item in feeds.newest_first(items)]
        updated = feeds.newest(items, _EPOCH)
        self.add(f"{language}/index.html", _key("index", entry, listing),
                 "text/html; charset=utf-8", updated,
                 lambda: pages.language_index(entry, listing))
        self.state_langs[language] = {
            "direction": direction, "entries": entries, "updated": updated.isoformat(),
            "feeds": [dataclasses.asdict(link) for link in feed_links],
        }
        return entry


def _renderer(doc: feeds.Document, fmt: feeds.Format) -> Callable[[], bytes]:
    return lambda: feeds.render(doc, fmt)


def _page(rendition: Rendition, others: tuple[feeds.Translation, ...],
          link: str) -> Callable[[], bytes]:
    return lambda: pages.rendition_page(rendition, others, link)


def _language_name(language: str) -> str:
    try:
        locale = babel_locale(language)
    except Exception:  # an unknown tag still gets listed, under its tag
        return language
    return str(locale.get_display_name(locale) or language)


def _broken_entry(language: str, data: dict[str, Any]) -> pages.LanguageEntry:
    links = tuple(pages.FeedLink(**link) for link in data.get("feeds", []))
    return pages.LanguageEntry(language, data.get("direction", "ltr"), _language_name(language),
                               links, len(data.get("entries", {})))


def publish(
    settings: Settings, localization: Localization, progress: Progress | None = None
) -> BuildResult:
    """Write the publication tree for ``localization``; see the module docstring."""
    return _commit(*_plan(settings, localization, progress))


def feed_documents(settings: Settings, localization: Localization) -> list[feeds.Document]:
    """Every feed document :func:`publish` would write (current feeds and archives), in order.

    Reads the previous state like :func:`publish` and writes nothing (for benchmarks).
    """
    builder = _plan(settings, localization, None)[0]
    docs: dict[str, feeds.Document] = {}
    for output in builder.outputs:
        if output.document is not None:
            docs.setdefault(output.document.base, output.document)
    return list(docs.values())


def _plan(
    settings: Settings, localization: Localization, progress: Progress | None
) -> tuple[_Builder, tuple[str, ...], tuple[LanguageReport, ...], dict[str, list[Rendition]]]:
    builder = _Builder(settings, localization, progress)
    loc = localization
    broken = [lang for lang in loc.broken_languages if lang in builder.prev_langs]
    active = [lang for lang in loc.languages if lang not in broken]
    chosen = {lang: builder.renditions(lang) for lang in active}

    translations: dict[str, list[feeds.Translation]] = defaultdict(list)
    for lang in active:
        for rendition in chosen[lang]:
            translations[rendition.answer_id].append(
                feeds.Translation(lang, builder.page_url(lang, rendition), rendition.title))
    for lang in broken:
        for answer_id, entry in builder.prev_langs[lang].get("entries", {}).items():
            translations[answer_id].append(
                feeds.Translation(lang, f"{builder.base}/{entry['page']}",
                                  entry.get("title", "")))
    for answer_id in translations:
        translations[answer_id].sort(key=lambda tr: tr.language)

    entries: list[pages.LanguageEntry] = []
    reports: list[LanguageReport] = []
    incomplete: dict[str, int] = defaultdict(int)
    for item in loc.incomplete:
        incomplete[item.language] += 1
    for number, lang in enumerate(active, start=1):
        entry = builder.language(lang, chosen[lang], translations)
        if entry is not None:
            entries.append(entry)
        status = "published" if entry is not None else "empty"
        reports.append(LanguageReport(lang, status, len(chosen[lang]), incomplete[lang],
                                      builder.kept[lang]))
        if progress:
            progress("render", number, len(active))
    for lang in broken:
        entries.append(_broken_entry(lang, builder.prev_langs[lang]))
        reports.append(LanguageReport(lang, "broken"))
        builder.state_langs[lang] = builder.prev_langs[lang]
        for name, archive in builder.prev_archives.items():
            if name.startswith(f"{lang}/"):
                builder.state_archives[name] = archive
    withdrawn = sorted(set(builder.prev_langs) - set(active) - set(broken))
    reports += [LanguageReport(lang, "withdrawn") for lang in withdrawn]

    newest = max((dt.datetime.fromisoformat(data["updated"])
                  for data in builder.state_langs.values() if "updated" in data),
                 default=_EPOCH)
    title = f"{settings.publisher}"
    listing = tuple(entries)
    builder.add("index.html", _key("site", title, listing), "text/html; charset=utf-8", newest,
                lambda: pages.site_index(title, listing))
    builder.add("feeds.opml", _key("opml", title, listing), "text/x-opml", newest,
                lambda: pages.opml(title, listing))

    keep_prefixes = tuple(f"{lang}/" for lang in broken)
    return builder, keep_prefixes, tuple(reports), chosen


def _commit(
    builder: _Builder,
    keep_prefixes: tuple[str, ...],
    reports: tuple[LanguageReport, ...],
    chosen: dict[str, list[Rendition]],
) -> BuildResult:
    out = builder.out
    out.mkdir(parents=True, exist_ok=True)
    records: dict[str, FileRecord] = {
        path: record for path, record in builder.manifest.items() if path.startswith(keep_prefixes)
    } if keep_prefixes else {}
    keys: dict[str, str] = {
        path: key for path, key in builder.prev_keys.items() if path.startswith(keep_prefixes)
    } if keep_prefixes else {}
    staged: list[tuple[Path, Path, str, FileRecord]] = []
    unchanged = 0
    total = len(builder.outputs)
    out_name = os.fspath(out)
    try:
        for number, output in enumerate(builder.outputs, start=1):
            old = builder.manifest.get(output.path)
            keys[output.path] = output.key
            if old is not None and builder.prev_keys.get(output.path) == output.key \
                    and os.path.exists(os.path.join(out_name, output.path)):
                records[output.path] = old
                unchanged += 1
                continue
            target = out / output.path
            data = output.produce()
            record = FileRecord(
                etag=f'"{hashlib.sha256(data).hexdigest()}"',
                last_modified=http_date(output.last_modified),
                content_type=output.content_type, size=len(data),
            )
            if old == record and target.exists():
                records[output.path] = old
                unchanged += 1
                continue
            staged.append((_stage(target, data, sync=False), target, output.path, record))
            if builder.progress and number % 500 == 0:
                builder.progress("write", number, total)
        _flush(staged, out)
    except FeedError as exc:
        _discard(staged)
        raise PublishError(f"cannot render: {exc}") from exc
    except OSError as exc:
        _discard(staged)
        raise PublishError(f"cannot write {exc.filename}: {exc.strerror}",
                           path=str(exc.filename)) from exc

    written: list[str] = []
    done: dict[str, FileRecord] = dict(builder.manifest)
    try:
        for temp, target, path, record in staged:
            os.replace(temp, target)
            written.append(path)
            done[path] = record
        for folder in sorted({target.parent for _, target, _, _ in staged}):
            _fsync_dir(folder)
        records.update({path: record for _, _, path, record in staged})
        _write_if_changed(out / MANIFEST, _manifest_bytes(records))
    except OSError as exc:
        _discard(staged[len(written):])
        # Every file is whole; describe what is on disk now so ETags stay true.
        with contextlib.suppress(OSError):
            write_atomic(out / MANIFEST, _manifest_bytes(
                {path: done[path] for path in done if (out / path).exists()}))
        raise PublishError(f"cannot replace {exc.filename}: {exc.strerror}; "
                           f"{len(written)} of {len(staged)} files replaced, each whole",
                           path=str(exc.filename)) from exc

    deleted = sorted(path for path in builder.manifest if path not in records)
    for path in deleted:
        with contextlib.suppress(FileNotFoundError):
            (out / path).unlink()
    _prune(out, {(out / path).parent for path in deleted})
    _save_state(builder, keys, chosen)
    if builder.progress:
        builder.progress("write", total, total)
    return BuildResult(reports, tuple(written), unchanged, tuple(deleted),
                       tuple(dict.fromkeys(builder.problems)))


def _discard(staged: Iterable[tuple[Path, Path, str, FileRecord]]) -> None:
    for temp, *_ in staged:
        with contextlib.suppress(OSError):
            temp.unlink()


def _prune(out: Path, folders: set[Path]) -> None:
    """Remove folders left empty by deleted files (never ``out`` itself)."""
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        while folder != out and out in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _save_state(
    builder: _Builder, keys: dict[str, str], chosen: dict[str, list[Rendition]]
) -> None:
    out = builder.out
    state = {
        "version": 1,
        "languages": builder.state_langs,
        "archives": builder.state_archives,
        "keys": keys,
    }
    for language, renditions in chosen.items():
        before = builder.prev_langs.get(language, {}).get("entries", {})
        now = builder.state_langs.get(language, {}).get("entries", {})
        same = before.keys() == now.keys() and all(
            before[k].get("fingerprint") == now[k]["fingerprint"] for k in now)
        target = out / STORE / f"{language}.json"
        if same and target.exists():
            continue
        data = {r.answer_id: r.to_dict() for r in renditions}
        write_atomic(target, json.dumps(data, ensure_ascii=False, sort_keys=True).encode())
    for stale in sorted((out / STORE).glob("*.json")) if (out / STORE).is_dir() else ():
        if stale.stem not in builder.state_langs:
            stale.unlink()
    _write_if_changed(out / STATE, json.dumps(state, ensure_ascii=False, sort_keys=True).encode())


def _write_if_changed(target: Path, data: bytes) -> None:
    """:func:`write_atomic` unless ``target`` already holds exactly ``data``."""
    try:
        if target.read_bytes() == data:
            return
    except OSError:
        pass
    write_atomic(target, data)
