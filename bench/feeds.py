"""Benchmark: render and write every feed of a synthetic corpus, against a minimal floor.

    python bench/feeds.py                      # 1,000 answers x 10 languages
    python bench/feeds.py --answers 100 --languages 3

Times, on the same localized corpus: the full publication (Atom, RSS and JSON Feed per
language and per condition with RFC 5005 archives, rendition pages, index, OPML, manifest,
atomic fsynced writes), a rebuild where nothing changed, and the floor: the same feed
documents serialized directly with lxml and json and written plainly. The last line of
output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from lxml import etree

from syndicate import feeds
from syndicate.config import Settings
from syndicate.pipeline import Localization, localize_corpus
from syndicate.publish import publish
from syndicate.testing import generate_corpus

ATOM = "http://www.w3.org/2005/Atom"


def _floor_atom(items: tuple[feeds.Item, ...]) -> bytes:
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    for item in items:
        entry = etree.SubElement(root, f"{{{ATOM}}}entry")
        etree.SubElement(entry, f"{{{ATOM}}}id").text = item.id
        etree.SubElement(entry, f"{{{ATOM}}}title").text = item.rendition.title
        etree.SubElement(entry, f"{{{ATOM}}}updated").text = item.updated.isoformat()
        etree.SubElement(entry, f"{{{ATOM}}}link", href=item.link)
        etree.SubElement(entry, f"{{{ATOM}}}summary").text = item.rendition.summary_html
        etree.SubElement(entry, f"{{{ATOM}}}content").text = item.rendition.content_html
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))


def _floor_rss(items: tuple[feeds.Item, ...]) -> bytes:
    root = etree.Element("rss", version="2.0")
    channel = etree.SubElement(root, "channel")
    for item in items:
        element = etree.SubElement(channel, "item")
        etree.SubElement(element, "guid").text = item.id
        etree.SubElement(element, "title").text = item.rendition.title
        etree.SubElement(element, "link").text = item.link
        etree.SubElement(element, "description").text = item.rendition.content_html
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))


def _floor_json(items: tuple[feeds.Item, ...]) -> bytes:
    data = {"version": feeds.JSON_FEED_VERSION, "items": [
        {"id": item.id, "url": item.link, "title": item.rendition.title,
         "content_html": item.rendition.content_html,
         "date_modified": item.updated.isoformat()} for item in items]}
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def floor(loc: Localization, settings: Settings, out: Path) -> int:
    """Serialize the same documents minimally and write them plainly; returns files written."""
    base = settings.base_url
    written = 0
    for language, renditions in loc.renditions.items():
        items = [feeds.Item(r, f"{base}/{language}/{r.condition_slug}/{r.slug}.html", r.updated)
                 for r in renditions]
        groups: dict[str, list[feeds.Item]] = defaultdict(list)
        groups[f"{language}"] = items
        for item in items:
            groups[f"{language}/{item.rendition.condition_slug}"].append(item)
        for folder, group in groups.items():
            plan = feeds.plan(group, settings.feed_size)
            docs = [("feed", plan.current)] + [
                (f"archive/{n}", page) for n, page in enumerate(plan.archives, start=1)]
            for name, page in docs:
                target = out / folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                for suffix, render in ((".atom", _floor_atom), (".rss", _floor_rss),
                                       (".json", _floor_json)):
                    Path(f"{target}{suffix}").write_bytes(render(page))
                    written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--languages", type=int, default=10)
    parser.add_argument("--feed-size", type=int, default=50)
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
        print(f"corpus generated in {generated:.1f}s, localized in {localized:.1f}s "
              f"({sum(len(r) for r in loc.renditions.values())} renditions)", file=sys.stderr)

        start = time.perf_counter()
        floor_files = floor(loc, settings, root / "floor")
        floor_time = time.perf_counter() - start
        print(f"floor: {floor_files} feed files in {floor_time:.2f}s", file=sys.stderr)

        start = time.perf_counter()
        full = publish(settings, loc)
        full_time = time.perf_counter() - start
        feed_files = sum(1 for p in full.written if p.endswith((".atom", ".rss", ".json")))
        print(f"full build: {len(full.written)} files ({feed_files} feeds) in {full_time:.2f}s",
              file=sys.stderr)

        start = time.perf_counter()
        again = publish(settings, loc)
        rebuild_time = time.perf_counter() - start
        print(f"no-change rebuild: {len(again.written)} written, {again.unchanged} unchanged "
              f"in {rebuild_time:.3f}s", file=sys.stderr)
        figures = {
            "answers": args.answers,
            "languages": args.languages,
            "renditions": sum(len(r) for r in loc.renditions.values()),
            "localize_s": round(localized, 3),
            "floor_s": round(floor_time, 3),
            "floor_files": floor_files,
            "full_build_s": round(full_time, 3),
            "full_build_files": len(full.written),
            "full_build_feed_files": feed_files,
            "ratio_full_to_floor": round(full_time / floor_time, 2),
            "no_change_rebuild_s": round(rebuild_time, 3),
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
