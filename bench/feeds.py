"""Benchmark: render and write every feed of a synthetic corpus, against a minimal floor.

    python bench/feeds.py                      # 1,000 answers x 10 languages
    python bench/feeds.py --answers 200 --languages 3 --rounds 1

On one localized corpus, the script lists the feed documents a build writes (Atom, RSS and
JSON Feed per language and per condition, with RFC 5005 archives: :func:`feed_documents`)
and times, in interleaved rounds (medians reported):

* *floor*: the same documents, with the same entries and content (ids, titles, dates,
  links and translation alternates, summary, full content, review metadata, paging links),
  serialized directly with lxml (pretty-printed) and ``json`` (indented), each file written
  plainly (no temporary file, no fsync);
* *feeds*: the same documents rendered by Syndicate (:func:`syndicate.publication.render`: feedgen
  for Atom and RSS, with its pitfalls worked around, checks on every entry) and written the
  same plain way: the comparison the goal is about (3x the floor at most);
* *whole build*: :func:`syndicate.publication.publish` into an empty folder: the feeds plus one
  HTML page per rendition, index, OPML, manifest and state, every file written atomically
  and made durable (temporary file, ``syncfs``/fsync, rename);
* *no-change rebuild*: ``publish`` again with nothing changed (goal under 0.5 s).

Memos in :mod:`syndicate.publication` are cleared before each timed run, so none profits from
another. Wall time is what the goals are about; CPU time (``time.process_time``, this
process only: publishing does not start workers) is reported beside it because other work
on the machine inflates wall time. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from syndicate.answers import localize_corpus
from syndicate.config import Settings
from syndicate.publication import atom, feed_documents, feeds, jsonfeed, publish, render
from syndicate.publication.layout import EXTENSIONS, FORMATS, Format
from syndicate.testing import generate_corpus

GOAL_RATIO = 3.0
GOAL_REBUILD_S = 0.5
ATOM = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM}}}"
R = f"{{{feeds.REVIEW_NS}}}"
FH = f"{{{feeds.HISTORY_NS}}}"
NSMAP = {None: ATOM, "review": feeds.REVIEW_NS, "fh": feeds.HISTORY_NS}


def _text(parent: Any, tag: str, text: str, **attrib: str) -> Any:
    element = etree.SubElement(parent, tag, attrib)
    element.text = text
    return element


def _paging(doc: feeds.Document, ext: str) -> list[tuple[str, str]]:
    links = [("self", doc.url("atom" if ext == ".atom" else "rss")), ("hub", doc.hub_url)]
    if doc.current is not None:
        links.append(("current", doc.current + ext))
    if doc.prev_archive is not None:
        links.append(("prev-archive", doc.prev_archive + ext))
    return links


_CONTENT: dict[int, str] = {}


def _content(rendition: Any) -> str:
    # Assembled once per rendition, like the build: the floor times serialization only.
    found = _CONTENT.get(id(rendition))
    if found is None:
        found = _CONTENT[id(rendition)] = rendition.content_html
    return found


def _review(parent: Any, rendition: Any) -> None:
    for name, text in feeds.review_fields(rendition):
        _text(parent, f"{R}{name}", text)


def floor_atom(doc: feeds.Document) -> bytes:
    root = etree.Element(f"{A}feed", nsmap=NSMAP)
    _text(root, f"{A}id", doc.feed_id)
    _text(root, f"{A}title", doc.title)
    _text(root, f"{A}subtitle", doc.subtitle)
    _text(root, f"{A}updated", doc.updated.isoformat())
    for rel, href in _paging(doc, ".atom"):
        etree.SubElement(root, f"{A}link", rel=rel, href=href)
    for item in doc.items:
        r = item.rendition
        entry = etree.SubElement(root, f"{A}entry")
        _text(entry, f"{A}id", item.id)
        _text(entry, f"{A}title", r.title)
        _text(entry, f"{A}updated", r.updated.isoformat())
        _text(entry, f"{A}published", item.published.isoformat())
        etree.SubElement(entry, f"{A}link", rel="via", href=r.url)
        for t in item.translations:
            etree.SubElement(entry, f"{A}link", rel="alternate", hreflang=t.language,
                             href=t.url, title=t.title)
        etree.SubElement(entry, f"{A}link", rel="alternate", href=item.link)
        _text(entry, f"{A}summary", r.summary_html, type="html")
        _text(entry, f"{A}content", _content(r), type="html")
        _review(entry, r)
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True))


def floor_rss(doc: feeds.Document) -> bytes:
    root = etree.Element("rss", version="2.0", nsmap={"atom": ATOM, "review": feeds.REVIEW_NS})
    channel = etree.SubElement(root, "channel")
    _text(channel, "title", doc.title)
    _text(channel, "link", doc.home_page_url)
    _text(channel, "description", doc.subtitle)
    for rel, href in _paging(doc, ".rss"):
        etree.SubElement(channel, f"{A}link", rel=rel, href=href)
    for item in doc.items:
        r = item.rendition
        element = etree.SubElement(channel, "item")
        _text(element, "title", r.title)
        _text(element, "link", item.link)
        _text(element, "description", r.summary_html)
        _text(element, "content", _content(r))
        _text(element, "guid", item.id, isPermaLink="false")
        _text(element, "pubDate", item.published.isoformat())
        _review(element, r)
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True))


def floor_json(doc: feeds.Document) -> bytes:
    items = []
    for item in doc.items:
        r = item.rendition
        items.append({
            "id": item.id, "url": item.link, "external_url": r.url, "title": r.title,
            "summary": r.summary_text, "content_html": _content(r),
            "date_published": item.published.isoformat(), "date_modified": r.updated.isoformat(),
            "language": r.language,
            "_syndicate": {**dict(feeds.review_fields(r)), "translations": [
                {"language": t.language, "url": t.url, "title": t.title}
                for t in item.translations]},
        })
    data = {"version": jsonfeed.JSON_FEED_VERSION, "title": doc.title,
            "feed_url": doc.url("json"), "home_page_url": doc.home_page_url,
            "hubs": [{"type": "WebSub", "url": doc.hub_url}],
            "next_url": doc.prev_archive, "items": items}
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


FLOOR: dict[Format, Callable[[feeds.Document], bytes]] = {
    "atom": floor_atom, "rss": floor_rss, "json": floor_json}


def write_documents(docs: list[feeds.Document], base: str, out: Path,
                    render: Callable[[feeds.Document, Format], bytes]) -> int:
    """Render every document in every format and write it plainly; returns files written."""
    written = 0
    for doc in docs:
        target = out / doc.base.removeprefix(base).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        for fmt in FORMATS:
            Path(f"{target}{EXTENSIONS[fmt]}").write_bytes(render(doc, fmt))
            written += 1
    return written


def clear_memos() -> None:
    _CONTENT.clear()
    for memo in (feeds.content_html, atom._entry_element, jsonfeed._json_item_text,
                 feeds._check_item):
        memo.cache_clear()


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    clear_memos()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--languages", type=int, default=10)
    parser.add_argument("--feed-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syndicate-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        content, locales, _ = generate_corpus(root, args.answers, args.languages)
        generated = time.perf_counter() - start
        settings = Settings(content_dir=content, locales_dir=locales, out_dir=root / "public",
                            state_dir=root / "state", feed_size=args.feed_size)
        start = time.perf_counter()
        loc = localize_corpus(settings)
        localized = time.perf_counter() - start
        renditions = sum(len(r) for r in loc.renditions.values())
        docs = feed_documents(settings, loc)
        base = settings.base_url.rstrip("/")
        print(f"corpus generated in {generated:.1f}s, localized in {localized:.1f}s "
              f"({renditions} renditions, {len(docs)} feed documents)", file=sys.stderr)

        runs: dict[str, list[tuple[float, float]]] = {"floor": [], "feeds": [], "build": []}
        files: dict[str, int] = {}
        for number in range(1, args.rounds + 1):
            for name, run in (
                ("floor", lambda: write_documents(
                    docs, base, root / "floor", lambda d, f: FLOOR[f](d))),
                ("feeds", lambda: write_documents(docs, base, root / "feeds", render)),
                ("build", lambda: len(publish(settings, loc).written)),
            ):
                if name == "build":
                    shutil.rmtree(settings.out_dir, ignore_errors=True)
                wall, cpu, files[name] = timed(run)
                runs[name].append((wall, cpu))
                print(f"round {number}: {name} {files[name]} files in {wall:.2f}s "
                      f"(cpu {cpu:.2f}s)", file=sys.stderr)
        rebuilds = [timed(lambda: publish(settings, loc)) for _ in range(3)]
        again = rebuilds[-1][2]
        assert not again.written, "a rebuild with nothing changed wrote files"

    def median(name: str, index: int) -> float:
        return statistics.median(run[index] for run in runs[name])

    floor_s, feeds_s, build_s = median("floor", 0), median("feeds", 0), median("build", 0)
    floor_cpu, feeds_cpu, build_cpu = median("floor", 1), median("feeds", 1), median("build", 1)
    rebuild_s = statistics.median(wall for wall, _, _ in rebuilds)
    rebuild_cpu = statistics.median(cpu for _, cpu, _ in rebuilds)
    full = args.answers == 1000 and args.languages == 10
    figures = {
        "answers": args.answers,
        "languages": args.languages,
        "renditions": renditions,
        "feed_documents": len(docs),
        "rounds": args.rounds,
        "localize_s": round(localized, 3),
        "floor_s": round(floor_s, 3),
        "floor_cpu_s": round(floor_cpu, 3),
        "floor_files": files["floor"],
        "feeds_s": round(feeds_s, 3),
        "feeds_cpu_s": round(feeds_cpu, 3),
        "feeds_files": files["feeds"],
        "ratio_feeds_to_floor": round(feeds_s / floor_s, 2),
        "ratio_feeds_to_floor_cpu": round(feeds_cpu / floor_cpu, 2),
        "build_s": round(build_s, 3),
        "build_cpu_s": round(build_cpu, 3),
        "build_files": files["build"],
        "ratio_build_to_floor": round(build_s / floor_s, 2),
        "ratio_build_to_floor_cpu": round(build_cpu / floor_cpu, 2),
        "no_change_rebuild_s": round(rebuild_s, 3),
        "no_change_rebuild_cpu_s": round(rebuild_cpu, 3),
        "goal_ratio": GOAL_RATIO,
        "goal_rebuild_s": GOAL_REBUILD_S,
        "goal_met": (feeds_s / floor_s <= GOAL_RATIO and rebuild_s < GOAL_REBUILD_S)
        if full else None,
    }
    print(f"feed documents: {feeds_s:.2f}s vs floor {floor_s:.2f}s = "
          f"{figures['ratio_feeds_to_floor']}x wall, {figures['ratio_feeds_to_floor_cpu']}x "
          f"cpu (goal <= {GOAL_RATIO:.0f}x)", file=sys.stderr)
    print(f"whole build ({files['build']} files, pages, fsync): {build_s:.2f}s = "
          f"{figures['ratio_build_to_floor']}x the floor wall, "
          f"{figures['ratio_build_to_floor_cpu']}x cpu", file=sys.stderr)
    print(f"no-change rebuild: {rebuild_s:.3f}s, cpu {rebuild_cpu:.3f}s "
          f"(goal < {GOAL_REBUILD_S}s)"
          + ("" if full else "; goals apply to 1,000 x 10"), file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
