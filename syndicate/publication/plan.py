"""What a build writes: every file of the tree, the key of its inputs, and how to make it.

:func:`plan_build` decides, per language, which renditions to publish (fresh ones, or the
last good ones where an answer file or a translation broke), spreads them over feeds,
archives, pages and indexes, and gives each file a key over everything that shapes its
bytes. Nothing is rendered here: a file's bytes are made only if its key changed since the
last build (:mod:`syndicate.publication.tree`). Pure but for reading the previous state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from .._time import utc_now
from ..answers import (
    Localization,
    Progress,
    Rendition,
    babel_locale,
    mark_stale,
    translator_for,
    ui,
)
from ..config import Settings
from ..errors import CatalogError, FeedError
from . import feeds, pages
from .departures import Departures, departures, tombstones
from .formats import render
from .layout import (
    CSS,
    EXTENSIONS,
    FORMATS,
    HTML,
    MEDIA_TYPES,
    OPML,
    Format,
    archive_name,
    feed_name,
    hub_url,
    page_path,
    site_url,
)
from .manifest import FileRecord, read_manifest
from .paging import paginate
from .state import BuildState, LanguageState, PublishedEntry, read_renditions
from .texts import PageTexts

OUTPUT_VERSION = 6
"""Part of every input key: bump it when the rendered output changes for the same input."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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


@dataclasses.dataclass(slots=True)
class PlannedFile:
    """One file of the tree as planned: its path, input key and how to make its bytes."""

    path: str
    key: str
    content_type: str
    produce: Callable[[], bytes]
    document: feeds.Document | None = None
    """For a feed file: the document it renders."""
    status: int = 200
    """410 for a withdrawn answer's page, 301 for a page its answer moved away from."""
    location: str | None = None
    """For a 301: the absolute URL it points to."""


def input_key(*parts: Any) -> str:
    """A short digest of everything that shapes a file's bytes."""
    data = json.dumps([OUTPUT_VERSION, *parts], ensure_ascii=False, default=str)
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class BuildPlan:
    """One build's plan: the previous state, and every file the build is to write."""

    def __init__(self, settings: Settings, loc: Localization, progress: Progress | None,
                 now: dt.datetime | None = None) -> None:
        self.settings = settings
        self.now = (now or utc_now()).astimezone(dt.UTC).replace(microsecond=0)
        """The publication time: when entries first appearing now are published (whole
        seconds, as the API shows them)."""
        self.loc = loc
        self.progress = progress
        self.out = settings.out_dir
        self.base = site_url(settings.base_url)
        self.hub = hub_url(settings.base_url)
        self.manifest: dict[str, FileRecord] = read_manifest(self.out)
        self.previous = BuildState.read(self.out)
        self.files: list[PlannedFile] = []
        self.problems: list[str] = []
        self.languages: dict[str, LanguageState] = {}
        """The state of every language after this build."""
        self.archives: dict[str, tuple[tuple[str, ...], ...]] = {}
        """Archive pages after this build, by feed name."""
        self.reports: list[LanguageReport] = []
        self.chosen: dict[str, list[Rendition]] = {}
        """The renditions each active language publishes."""
        self.broken: list[str] = []
        """Languages whose catalog broke: their files stay exactly as they are."""
        self.kept: dict[str, int] = defaultdict(int)
        self.fingerprints: dict[tuple[str, str], str] = {}
        self.sources = {answer.id: answer.path for answer in loc.corpus.answers}
        self._published = {answer.id: answer for answer in loc.corpus.published}
        self._failed_paths = {problem.path for problem in loc.corpus.errors}
        self._stores: dict[str, dict[str, Rendition]] = {}
        self.texts = PageTexts(settings, self.base, loc.catalogs)
        self._item_keys: dict[tuple[str, str], list[Any]] = {}

    # -- renditions ----------------------------------------------------------------------

    def _entries(self, language: str) -> dict[str, PublishedEntry]:
        state = self.previous.languages.get(language)
        return dict(state.entries) if state is not None else {}

    def _store(self, language: str) -> dict[str, Rendition]:
        if language not in self._stores:
            self._stores[language] = read_renditions(self.out, language)
        return self._stores[language]

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
        previous = self._entries(language)
        incomplete = {i.answer_id for i in loc.incomplete if i.language == language}
        chosen: dict[str, Rendition] = {}
        for rendition in loc.renditions.get(language, ()):
            fp = feeds.fingerprint(rendition)
            self.fingerprints[(language, rendition.answer_id)] = fp
            # Published before with the same fingerprint: it passed the checks then.
            before = previous.get(rendition.answer_id)
            seen = before is not None and before.fingerprint == fp
            if seen or self._valid(rendition):
                chosen[rendition.answer_id] = rendition
        for answer_id, entry in previous.items():
            if answer_id not in chosen:
                kept = self._last_good(language, answer_id, entry, incomplete)
                if kept is not None:
                    chosen[answer_id] = kept
        order = {answer.id: n for n, answer in enumerate(loc.corpus.answers)}
        return sorted(chosen.values(), key=lambda r: (order.get(r.answer_id, -1), r.answer_id))

    def _last_good(self, language: str, answer_id: str, entry: PublishedEntry,
                   incomplete: set[str]) -> Rendition | None:
        """The last published rendition of an answer that has no fresh one, where it may stay:
        its file broke, the feed checks refused the new one, or the translation lags (then
        marked stale). ``incomplete``: the answers the language cannot publish fresh."""
        published = self._published
        broken_file = entry.path in self._failed_paths and answer_id not in published
        lagging = answer_id in published and answer_id in incomplete
        refused = answer_id in published and answer_id not in incomplete
        if not (broken_file or refused or lagging):
            return None
        old = self._store(language).get(answer_id)
        if old is None:
            return None
        if lagging:
            old = mark_stale(old, published[answer_id], self.loc.catalogs.get(language))
        if not self._valid(old):
            return None
        self.fingerprints[(language, answer_id)] = feeds.fingerprint(old)
        self.kept[language] += 1
        return old

    # -- files ---------------------------------------------------------------------------

    def page_url(self, language: str, rendition: Rendition) -> str:
        """The URL of a rendition's page."""
        return f"{self.base}/{page_path(language, rendition.condition_slug, rendition.slug)}"

    def add(self, path: str, key: str, content_type: str, produce: Callable[[], bytes],
            document: feeds.Document | None = None, status: int = 200,
            location: str | None = None) -> None:
        """Plan one file (its Last-Modified is recorded when its bytes change: see tree)."""
        self.files.append(PlannedFile(path, key, content_type, produce, document, status,
                                      location))

    def add_feed(self, name: str, title: str, subtitle: str, language: str,
                 items: list[feeds.Item], deleted: tuple[feeds.Tombstone, ...] = ()) -> None:
        """The current document of feed ``name`` (``es/feed``), with the tombstones of
        ``deleted``, and its archives."""
        pages_of = paginate(items, self.settings.feed_size, self.previous.archives.get(name, ()))
        self.archives[name] = pages_of.pages
        updated = feeds.newest(items, EPOCH)
        current = f"{self.base}/{name}"
        last = len(pages_of.archives)

        def document(base: str, page: tuple[feeds.Item, ...], page_updated: dt.datetime,
                     current: str | None, prev: str | None, complete: bool) -> feeds.Document:
            return feeds.Document(
                feed_id=feeds.feed_id(name), language=language, title=title, subtitle=subtitle,
                publisher=self.settings.publisher, base=base,
                home_page_url=f"{self.base}/{language}/", hub_url=self.hub, items=page,
                updated=page_updated, current=current, prev_archive=prev, complete=complete,
                deleted=deleted if current is None else (),
            )

        def archive(number: int) -> str:
            return f"{self.base}/{archive_name(name, number)}"

        docs = [(name, document(current, pages_of.current, updated, None,
                                archive(last) if last else None, not last))]
        for number, page in enumerate(pages_of.archives, start=1):
            docs.append((archive_name(name, number), document(
                archive(number), page, feeds.newest(page, updated), current,
                archive(number - 1) if number > 1 else None, False)))
        for path, doc in docs:
            self._add_document(path, doc)

    def _add_document(self, path: str, doc: feeds.Document) -> None:
        key = input_key(
            [doc.feed_id, doc.language, doc.title, doc.subtitle, doc.publisher, doc.base,
             doc.home_page_url, doc.hub_url, doc.updated.isoformat(), doc.current,
             doc.prev_archive, doc.complete],
            [self._item_key(item) for item in doc.items],
            [[t.ref, t.when.isoformat(), t.comment, t.link] for t in doc.deleted],
        )
        for fmt in FORMATS:
            self.add(path + EXTENSIONS[fmt], key, MEDIA_TYPES[fmt], _rendered(doc, fmt), doc)

    def _item_key(self, item: feeds.Item) -> list[Any]:
        """What shapes an entry (once per build: an entry is in several documents)."""
        where = (item.rendition.language, item.rendition.answer_id)
        found = self._item_keys.get(where)
        if found is None:
            found = [self.fingerprints[where], item.link, item.published.isoformat(),
                     item.overdue, [[t.language, t.url, t.title] for t in item.translations]]
            self._item_keys[where] = found
        return found

    def language(self, language: str, renditions: list[Rendition],
                 translations: dict[str, list[feeds.Translation]]) -> pages.LanguageEntry | None:
        """Every file of one published language; its entry for the index."""
        items, entries = self._pages(language, renditions, translations)
        if not items:
            return None
        gone = departures(self.previous.languages.get(language), entries, self.now)
        direction = renditions[0].direction
        feed_links = self._feeds(language, items, gone)
        self._departed(language, direction, gone, entries)
        entry = pages.LanguageEntry(language, direction, _language_name(language),
                                    tuple(feed_links), len(items))
        listing = [(item.link, item.rendition.title) for item in feeds.newest_first(items)]
        updated = feeds.newest(items, EPOCH)
        self.add(f"{language}/index.html", input_key("index", entry, listing), HTML,
                 lambda: pages.language_index(entry, listing))
        self.languages[language] = LanguageState(direction, entries, updated, tuple(feed_links),
                                                 gone.withdrawn, gone.moved)
        return entry

    def _departed(self, language: str, direction: str, gone: Departures,
                  entries: dict[str, PublishedEntry]) -> None:
        """The 410 pages of withdrawn answers, the 301s of moved ones."""
        t = translator_for(self.loc.catalogs.get(language))
        heading = ui.withdrawn_title(t)
        notice = ui.withdrawn_notice(t, self.settings.publisher)
        home = f"{self.base}/{language}/"
        for page, title in sorted(gone.gone.items()):
            self.add(page, input_key("gone", language, direction, heading, notice, title, home),
                     HTML, _gone(language, direction, heading, notice, title, home), status=410)
        for page, answer_id in sorted(gone.moved.items()):
            target, title = f"{self.base}/{entries[answer_id].page}", entries[answer_id].title
            self.add(page, input_key("moved", language, title, target), HTML,
                     _moved(language, title, target), status=301, location=target)

    def _pages(self, language: str, renditions: list[Rendition],
               translations: dict[str, list[feeds.Translation]]
               ) -> tuple[list[feeds.Item], dict[str, PublishedEntry]]:
        """Each rendition's entry and page; what the state records of each."""
        previous = self._entries(language)
        state = self.previous.languages.get(language)
        withdrawn = state.withdrawn if state is not None else {}
        entries: dict[str, PublishedEntry] = {}
        items: list[feeds.Item] = []
        for rendition in renditions:
            answer_id = rendition.answer_id
            fp = self.fingerprints[(language, answer_id)]
            before = previous.get(answer_id)
            # Recorded when the entry first appears (an answer withdrawn and back keeps its
            # date), never derived from the content's own dates (a catalog's header date
            # may be days older than the entry).
            published = before.published if before is not None else None
            if published is None and answer_id in withdrawn:
                published = withdrawn[answer_id].published
            published = published or self.now
            link = self.page_url(language, rendition)
            others = tuple(tr for tr in translations[answer_id] if tr.language != language)
            due = rendition.review_due
            overdue = due is not None and self.now.date() > due
            items.append(feeds.Item(rendition, link, published, others, overdue))
            path = page_path(language, rendition.condition_slug, rendition.slug)
            source = self.sources.get(answer_id, before.path if before is not None else "")
            entries[answer_id] = PublishedEntry(source, published, fp, path, rendition.title)
            context = self.texts.page_context(rendition, link, published,
                                              translations[answer_id])
            key = [fp, [[o.language, o.url, o.title] for o in others], context]
            if overdue and due is not None:  # the notice is made only if the page is
                key.append(self.texts.notice_key(language, due))
            self.add(path, input_key(*key), HTML,
                     _page(rendition, others, context, self.texts if overdue else None))
        return items, entries

    def _feeds(self, language: str, items: list[feeds.Item], gone: Departures
               ) -> list[pages.FeedLink]:
        """The language's feed and one per condition, with the tombstones of answers
        withdrawn within ``tombstone_days``; their links for the indexes."""
        t = translator_for(self.loc.catalogs.get(language))
        publisher = self.settings.publisher
        subtitle = ui.feed_subtitle(t)
        since = self.now - dt.timedelta(days=self.settings.tombstone_days)
        comment = ui.withdrawn_notice(t, publisher)

        def deleted(condition: str | None = None) -> tuple[feeds.Tombstone, ...]:
            return tombstones(gone.withdrawn, language, comment, self.base, since, condition)

        links = [pages.FeedLink(language, ui.feed_title(t, publisher),
                                f"{self.base}/{feed_name(language)}")]
        self.add_feed(feed_name(language), links[0].title, subtitle, language, items, deleted())
        by_condition: dict[str, list[feeds.Item]] = defaultdict(list)
        for item in items:
            by_condition[item.rendition.condition_slug].append(item)
        for slug in sorted(by_condition):
            group = by_condition[slug]
            title = ui.condition_feed_title(t, publisher, group[0].rendition.condition)
            url = f"{self.base}/{feed_name(language, slug)}"
            links.append(pages.FeedLink(language, title, url))
            self.add_feed(feed_name(language, slug), title, subtitle, language, group,
                          deleted(slug))
        return links


def _rendered(doc: feeds.Document, fmt: Format) -> Callable[[], bytes]:
    return lambda: render(doc, fmt)


def _page(rendition: Rendition, others: tuple[feeds.Translation, ...],
          context: pages.PageContext, texts: PageTexts | None) -> Callable[[], bytes]:
    """A page's bytes; with ``texts``, with the notice of its overdue review."""
    due = rendition.review_due
    if texts is None or due is None:
        return lambda: pages.rendition_page(rendition, others, context)
    return lambda: pages.rendition_page(
        rendition, others, texts.with_notice(context, rendition.language, due))


def _gone(language: str, direction: str, heading: str, notice: str, title: str,
          home: str) -> Callable[[], bytes]:
    return lambda: pages.gone_page(language, direction, heading, notice, title, home)


def _moved(language: str, title: str, target: str) -> Callable[[], bytes]:
    return lambda: pages.moved_page(language, title, target)


def _language_name(language: str) -> str:
    try:
        locale = babel_locale(language)
    except CatalogError:  # an unknown tag still gets listed, under its tag
        return language
    return str(locale.get_display_name(locale) or language)


def plan_build(settings: Settings, localization: Localization,
               progress: Progress | None = None, now: dt.datetime | None = None) -> BuildPlan:
    """Plan every file of the tree for ``localization`` (see the module doc); ``now``: the
    publication time (the real clock when not given)."""
    plan = BuildPlan(settings, localization, progress, now)
    previous = plan.previous.languages
    plan.broken = [lang for lang in localization.broken_languages if lang in previous]
    active = [lang for lang in localization.languages if lang not in plan.broken]
    plan.chosen = {lang: plan.renditions(lang) for lang in active}
    translations = _translations(plan, active)
    listing = _languages(plan, active, translations)
    withdrawn = sorted(set(previous) - set(active) - set(plan.broken))
    plan.reports += [LanguageReport(lang, "withdrawn") for lang in withdrawn]
    title = f"{settings.publisher}"
    style = pages.stylesheet()
    plan.add(pages.STYLESHEET, input_key("style", hashlib.sha256(style).hexdigest()), CSS,
             lambda: style)
    plan.add("index.html", input_key("site", title, listing), HTML,
             lambda: pages.site_index(title, listing))
    plan.add("feeds.opml", input_key("opml", title, listing), OPML,
             lambda: pages.opml(title, listing))
    return plan


def _translations(plan: BuildPlan, active: Sequence[str]
                  ) -> dict[str, list[feeds.Translation]]:
    """Every published language of each answer, for the alternates of its entries."""
    found: dict[str, list[feeds.Translation]] = defaultdict(list)
    for lang in active:
        for rendition in plan.chosen[lang]:
            found[rendition.answer_id].append(
                feeds.Translation(lang, plan.page_url(lang, rendition), rendition.title))
    for lang in plan.broken:
        for answer_id, entry in plan.previous.languages[lang].entries.items():
            found[answer_id].append(
                feeds.Translation(lang, f"{plan.base}/{entry.page}", entry.title))
    for translations in found.values():
        translations.sort(key=lambda tr: tr.language)
    return found


def _languages(plan: BuildPlan, active: Sequence[str],
               translations: dict[str, list[feeds.Translation]]
               ) -> tuple[pages.LanguageEntry, ...]:
    """Plan every active language's files and keep every broken one's; the index entries."""
    entries: list[pages.LanguageEntry] = []
    incomplete: dict[str, int] = defaultdict(int)
    for item in plan.loc.incomplete:
        incomplete[item.language] += 1
    for number, lang in enumerate(active, start=1):
        entry = plan.language(lang, plan.chosen[lang], translations)
        if entry is not None:
            entries.append(entry)
        status = "published" if entry is not None else "empty"
        plan.reports.append(LanguageReport(lang, status, len(plan.chosen[lang]),
                                           incomplete[lang], plan.kept[lang]))
        if plan.progress:
            plan.progress("render", number, len(active))
    for lang in plan.broken:
        state = plan.previous.languages[lang]
        entries.append(pages.LanguageEntry(lang, state.direction, _language_name(lang),
                                           state.feeds, len(state.entries)))
        plan.reports.append(LanguageReport(lang, "broken"))
        plan.languages[lang] = state
        for name, archive in plan.previous.archives.items():
            if name.startswith(f"{lang}/"):
                plan.archives[name] = archive
    return tuple(entries)


def feed_documents(settings: Settings, localization: Localization) -> list[feeds.Document]:
    """Every feed document a build would write (current feeds and archives), in order.

    Reads the previous state like a build and writes nothing (for benchmarks).
    """
    docs: dict[str, feeds.Document] = {}
    for planned in plan_build(settings, localization).files:
        if planned.document is not None:
            docs.setdefault(planned.document.base, planned.document)
    return list(docs.values())
