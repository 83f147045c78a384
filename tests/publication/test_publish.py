"""Publication: the tree, manifest, golden output, incremental and failure-safe writing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from lxml import etree

from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.errors import PublishError
from syndicate.publication import MANIFEST, STORE, BuildResult, publish, read_manifest
from syndicate.publication import tree as publish_module
from syndicate.publication.feeds import TOMBSTONES_NS, entry_id
from syndicate.publication.state import read_renditions
from syndicate.testing import answer_text, generate_corpus
from tests.support import GOLDEN, check_file, parse_feed

FEED_SUFFIXES = (".atom", ".rss", ".json")
PUBLISHED_AT = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
"""When the tests' builds publish (the Last-Modified of every file they write)."""


def build(settings: Settings, now: dt.datetime = PUBLISHED_AT) -> BuildResult:
    return publish(settings, localize_corpus(settings), now=now)


def public_files(out: Path) -> dict[str, bytes]:
    """Every published file (hidden state excluded), by path relative to ``out``."""
    found = {}
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in Path(relative).parts):
            found[relative] = path.read_bytes()
    return found


def feed_files(out: Path) -> list[Path]:
    return [p for p in sorted(out.rglob("*")) if p.suffix in FEED_SUFFIXES
            and p.name != MANIFEST and not p.relative_to(out).as_posix().startswith(".")]


def test_fixture_tree_matches_golden_files(feed_settings: Settings, regen_golden: bool) -> None:
    """Regenerate deliberately with ``pytest tests/publication/test_publish.py --regen-golden``."""
    build(feed_settings)
    produced = public_files(feed_settings.out_dir)
    if regen_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for relative, data in produced.items():
            target = GOLDEN / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    expected = public_files(GOLDEN)
    assert sorted(produced) == sorted(expected)
    for relative, data in produced.items():
        assert data.decode("utf-8") == expected[relative].decode("utf-8"), relative


def test_tree_layout_and_every_feed_is_valid(feed_settings: Settings) -> None:
    result = build(feed_settings)
    out = feed_settings.out_dir
    for lang in ("en", "ar"):
        for folder in (f"{lang}", f"{lang}/lupus", f"{lang}/asthma"):
            for suffix in FEED_SUFFIXES:
                assert (out / folder / f"feed{suffix}").is_file()
        assert (out / lang / "archive" / "1.atom").is_file()  # 3 entries, feed_size 2
        assert (out / lang / "lupus" / "what-causes-lupus.html").is_file()
    assert (out / "feeds.opml").is_file() and (out / "index.html").is_file()
    for path in feed_files(out):
        check_file(path)
    index = (out / "index.html").read_text("utf-8")
    assert 'lang="ar" dir="rtl"' in index and 'lang="en" dir="ltr"' in index
    assert [report.answers for report in result.languages] == [3, 3]


def test_arabic_text_round_trips_through_the_published_feeds(feed_settings: Settings) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    expected = "هل يتوافق الربو & <b>الرياضة</b>؟"
    atom = parse_feed((out / "ar/asthma/feed.atom").read_bytes())
    assert atom.entries[0].title == expected
    data = json.loads((out / "ar/asthma/feed.json").read_bytes())
    assert data["items"][0]["title"] == expected
    assert data["items"][0]["language"] == "ar"
    english = json.loads((out / "en/lupus/feed.json").read_bytes())
    assert "après" in english["items"][0]["content_html"]


def test_manifest_records_strong_etag_last_modified_type_and_size(
    feed_settings: Settings,
) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    manifest = read_manifest(out)
    assert set(manifest) == set(public_files(out)) - {MANIFEST}
    for relative, record in manifest.items():
        data = (out / relative).read_bytes()
        assert record.etag == f'"{hashlib.sha256(data).hexdigest()}"'
        assert record.size == len(data)
    assert manifest["en/feed.atom"].content_type == "application/atom+xml"
    assert manifest["en/feed.rss"].content_type == "application/rss+xml"
    assert manifest["en/feed.json"].content_type == "application/feed+json"
    # When the bytes were written, not the newest entry's review date (2026-04-06).
    assert {record.last_modified for record in manifest.values()} == {
        "Fri, 01 May 2026 12:00:00 GMT"}


def test_last_modified_moves_only_with_the_bytes_and_only_forward(
    feed_settings: Settings,
) -> None:
    """An answer reviewed long ago, first published now, changes the feeds now: the old
    Last-Modified was the newest entry's date, so If-Modified-Since polls got 304."""
    build(feed_settings)
    later = PUBLISHED_AT + dt.timedelta(days=3)
    source = feed_settings.content_dir / "lupus" / "is-lupus-contagious.md"
    added = source.with_name("old-news.md")
    added.write_text(source.read_text("utf-8").replace("1a2b3c4d5e6f7002", "1a2b3c4d5e6f7009")
                     .replace("reviewed: 2026-04-06", "reviewed: 2025-01-01")
                     .replace("is-lupus-contagious", "old-news"), "utf-8")
    result = build(feed_settings, later)
    manifest = read_manifest(feed_settings.out_dir)
    assert "en/feed.atom" in result.written
    assert manifest["en/feed.atom"].last_modified == "Mon, 04 May 2026 12:00:00 GMT"
    assert manifest["en/lupus/old-news.html"].last_modified == "Mon, 04 May 2026 12:00:00 GMT"
    # Arabic has no translation of it: its files' bytes did not change.
    assert manifest["ar/feed.atom"].last_modified == "Fri, 01 May 2026 12:00:00 GMT"
    assert manifest["en/asthma/feed.atom"].last_modified == "Fri, 01 May 2026 12:00:00 GMT"
    # A clock set back (or two changes in one second) still moves it forward.
    added.unlink()
    build(feed_settings, PUBLISHED_AT)
    manifest = read_manifest(feed_settings.out_dir)
    assert manifest["en/feed.atom"].last_modified == "Mon, 04 May 2026 12:00:01 GMT"


def test_two_builds_are_byte_identical_and_a_rebuild_writes_nothing(
    feed_settings: Settings, tmp_path: Path
) -> None:
    build(feed_settings)
    first = public_files(feed_settings.out_dir)
    other = dataclasses.replace(feed_settings, out_dir=tmp_path / "other")
    build(other)
    assert public_files(other.out_dir) == first
    again = build(feed_settings)
    assert again.written == () and again.deleted == ()
    assert public_files(feed_settings.out_dir) == first


def test_changed_answer_keeps_its_id_and_rewrites_only_what_shows_it(
    feed_settings: Settings,
) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    before = json.loads((out / "en/asthma/feed.json").read_bytes())["items"][0]
    path = feed_settings.content_dir / "asthma" / "can-asthma-go-away.md"
    path.write_text(path.read_text("utf-8").replace("reviewed: 2026-01-15", "reviewed: 2026-02-01")
                    .replace("as Zoë did", "as Zoë does"), "utf-8")
    result = build(feed_settings)
    after = json.loads((out / "en/asthma/feed.json").read_bytes())["items"][0]
    assert after["id"] == before["id"] and after["content_html"] != before["content_html"]
    assert after["date_modified"] == "2026-02-01T00:00:00Z"
    assert "en/lupus/feed.atom" not in result.written
    assert "en/asthma/feed.atom" in result.written


def test_archives_never_change_when_new_entries_are_added(tmp_path: Path) -> None:
    content, locales, _ = generate_corpus(tmp_path, answers=9, languages=1, conditions=1,
                                          body_bytes=300)
    settings = Settings(content_dir=content, locales_dir=locales, out_dir=tmp_path / "public",
                        feed_size=2, base_url="https://feeds.example.org")
    build(settings)
    out = settings.out_dir
    archives = {p: p.read_bytes() for p in out.rglob("archive/*.*")}
    # 9 entries in pages of 2 while more than 2 are left: 4 pages, 1 entry left over;
    # 2 feeds (language, condition) x 3 formats.
    assert len(archives) == 4 * 2 * 3
    for index in range(9, 14):  # five newer answers
        _, slug, text = answer_text(index, "Lupus", 300)
        # Reviewed after every other answer (the synthetic ones are from 2024 to April 2026),
        # and in the past (a future review date is refused).
        text = re.sub(r"(?m)^reviewed: .*$", f"reviewed: 2026-06-{index:02d}", text)
        text = re.sub(r"(?m)^review_due: .*$", "review_due: 2027-06-01", text)
        (content / "lupus" / f"{slug}.md").write_text(text, "utf-8")
    result = build(settings)
    assert not [p for p in result.written if "/archive/" in p and Path(out / p) in archives]
    for path, data in archives.items():
        assert path.read_bytes() == data, path
    assert len(list(out.rglob("archive/*.*"))) > len(archives)
    current = parse_feed((out / "en/feed.atom").read_bytes())
    links = {link.rel: link.href for link in current.feed.links}
    assert links["prev-archive"].endswith("/en/archive/6.atom")


def _withdraw(settings: Settings, status: str = "withdrawn") -> None:
    path = settings.content_dir / "lupus" / "is-lupus-contagious.md"
    text = path.read_text("utf-8")
    path.write_text(re.sub(r"status: \w+", f"status: {status}", text), "utf-8")


def test_withdrawn_answer_leaves_every_feed_as_a_tombstone_and_its_page_answers_410(
    feed_settings: Settings,
) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    _withdraw(feed_settings)
    later = PUBLISHED_AT + dt.timedelta(days=2)
    build(feed_settings, later)
    for feed in feed_files(out):
        assert b"Is Lupus contagious" not in feed.read_bytes(), feed
        assert "هل الذئبة معدية".encode() not in feed.read_bytes()
        check_file(feed)  # tombstones keep every feed valid
    manifest = read_manifest(out)
    ref = entry_id("1a2b3c4d5e6f7002", "ar")
    notice = "سحبت DiseaseMaps هذه الإجابة. لا تعتمد على نسخ منها معروضة في أماكن أخرى."
    for name in ("ar/feed.atom", "ar/lupus/feed.atom", "ar/feed.rss"):
        tree = etree.fromstring((out / name).read_bytes())
        (deleted,) = tree.iter(f"{{{TOMBSTONES_NS}}}deleted-entry")
        assert deleted.get("ref") == ref and deleted.get("when") == "2026-05-03T12:00:00Z"
        comment = deleted.find(f"{{{TOMBSTONES_NS}}}comment")
        assert comment.text == notice
        assert comment.get("{http://www.w3.org/XML/1998/namespace}lang") == "ar"
    assert b"deleted-entry" not in (out / "ar/asthma/feed.atom").read_bytes()
    assert b"deleted-entry" not in (out / "ar/archive/1.atom").read_bytes()
    data = json.loads((out / "ar/feed.json").read_bytes())
    assert data["_syndicate"]["deleted"] == [{
        "id": ref, "deleted_at": "2026-05-03T12:00:00Z", "language": "ar", "comment": notice,
        "url": "https://feeds.example.org/ar/lupus/is-lupus-contagious.html"}]
    assert ref not in {item["id"] for item in data["items"]}
    page = manifest["ar/lupus/is-lupus-contagious.html"]
    assert page.status == 410
    body = (out / "ar/lupus/is-lupus-contagious.html").read_text("utf-8")
    assert notice in body and 'dir="rtl"' in body
    assert manifest["en/lupus/is-lupus-contagious.html"].status == 410
    # After tombstone_days the feeds forget it; the page still answers 410.
    build(feed_settings, later + dt.timedelta(days=91))
    assert b"deleted-entry" not in (out / "ar/feed.atom").read_bytes()
    assert "deleted" not in json.loads((out / "ar/feed.json").read_bytes())["_syndicate"]
    assert read_manifest(out)["ar/lupus/is-lupus-contagious.html"].status == 410


def test_an_answer_back_after_withdrawal_keeps_its_first_published_date(
    feed_settings: Settings,
) -> None:
    build(feed_settings)
    _withdraw(feed_settings)
    build(feed_settings, PUBLISHED_AT + dt.timedelta(days=1))
    _withdraw(feed_settings, "published")
    build(feed_settings, PUBLISHED_AT + dt.timedelta(days=2))
    out = feed_settings.out_dir
    items = json.loads((out / "en/lupus/feed.json").read_bytes())["items"]
    back = next(i for i in items if i["url"].endswith("/is-lupus-contagious.html"))
    assert back["date_published"] == "2026-05-01T12:00:00Z"
    assert b"deleted-entry" not in (out / "en/feed.atom").read_bytes()
    assert read_manifest(out)["en/lupus/is-lupus-contagious.html"].status == 200


def test_a_moved_answer_leaves_a_301_at_its_old_page(feed_settings: Settings) -> None:
    build(feed_settings)
    content = feed_settings.content_dir
    source = content / "lupus" / "is-lupus-contagious.md"
    target = content / "asthma" / "is-lupus-contagious.md"
    target.write_text(source.read_text("utf-8").replace("condition: Lupus", "condition: Asthma"),
                      "utf-8")
    source.unlink()
    build(feed_settings, PUBLISHED_AT + dt.timedelta(days=1))
    manifest = read_manifest(feed_settings.out_dir)
    old = manifest["en/lupus/is-lupus-contagious.html"]
    assert old.status == 301
    assert old.location == "https://feeds.example.org/en/asthma/is-lupus-contagious.html"
    assert manifest["en/asthma/is-lupus-contagious.html"].status == 200
    assert b"deleted-entry" not in (feed_settings.out_dir / "en/feed.atom").read_bytes()


def test_removed_catalog_withdraws_its_language_cleanly(feed_settings: Settings) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    shutil.rmtree(feed_settings.locales_dir / "ar")
    result = build(feed_settings)
    assert not (out / "ar").exists()
    assert not [path for path in read_manifest(out) if path.startswith("ar/")]
    assert "/ar/" not in (out / "feeds.opml").read_text("utf-8")
    assert 'lang="ar"' not in (out / "index.html").read_text("utf-8")
    assert ("ar", "withdrawn") in [(r.language, r.status) for r in result.languages]
    english = (out / "en/feed.atom").read_text("utf-8")
    assert 'hreflang="ar"' not in english


def test_broken_catalog_keeps_its_previous_files_untouched(feed_settings: Settings) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    before = {k: v for k, v in public_files(out).items() if k.startswith("ar/")}
    manifest_before = {k: v for k, v in read_manifest(out).items() if k.startswith("ar/")}
    po = next((feed_settings.locales_dir / "ar").rglob("*.po"))
    po.write_bytes(b"\xff\xfe not a catalog")
    result = build(feed_settings)
    assert {k: v for k, v in public_files(out).items() if k.startswith("ar/")} == before
    assert {k: v for k, v in read_manifest(out).items() if k.startswith("ar/")} == manifest_before
    assert ("ar", "broken") in [(r.language, r.status) for r in result.languages]
    assert "/ar/feed.atom" in (out / "feeds.opml").read_text("utf-8")


def test_answer_whose_file_broke_keeps_its_last_published_entries(
    feed_settings: Settings,
) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    path = feed_settings.content_dir / "lupus" / "what-causes-lupus.md"
    path.write_text(path.read_text("utf-8").replace("reviewed: 2026-03-02", "reviewed: 2026-13-02"),
                    "utf-8")
    settings = feed_settings
    localization = localize_corpus(settings)
    assert localization.corpus.errors
    result = publish(settings, localization)
    for feed in ("en/feed.json", "ar/feed.json", "en/lupus/feed.json"):
        ids = [i["id"] for i in json.loads((out / feed).read_bytes())["items"]]
        archive = out / feed.replace("feed.json", "archive/1.json")
        if archive.exists():
            ids += [i["id"] for i in json.loads(archive.read_bytes())["items"]]
        assert any(feed_id.startswith("urn:uuid:") for feed_id in ids)
        text = (out / feed).read_text("utf-8") + (archive.read_text("utf-8")
                                                  if archive.exists() else "")
        assert "Lupus" in text or "الذئبة" in text
    assert [r.kept for r in result.languages] == [1, 1]
    assert (out / "en/lupus/what-causes-lupus.html").exists()


def test_control_character_in_a_translation_keeps_the_last_good_version(
    feed_settings: Settings,
) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    good = json.loads((out / "ar/asthma/feed.json").read_bytes())["items"][0]
    po = next((feed_settings.locales_dir / "ar").rglob("*.po"))
    po.write_text(po.read_text("utf-8").replace("قبل أن تبدأ", "قبل\\a أن تبدأ"), "utf-8")
    localization = localize_corpus(feed_settings)
    assert any(i.answer_id == "1a2b3c4d5e6f7003" for i in localization.incomplete)
    publish(feed_settings, localization)
    kept = json.loads((out / "ar/asthma/feed.json").read_bytes())["items"][0]
    assert kept["id"] == good["id"] and "\x07" not in kept["content_html"]
    for feed in feed_files(out):
        check_file(feed)


@pytest.mark.parametrize("transient", [True, False])
def test_failure_while_replacing_files_leaves_every_feed_whole(
    feed_settings: Settings, monkeypatch: pytest.MonkeyPatch, transient: bool
) -> None:
    """os.replace fails after 5 files: once (then the manifest describes the disk exactly),
    or for good (then every file is still whole and valid, old or new)."""
    build(feed_settings)
    out = feed_settings.out_dir
    for name in ("what-causes-lupus", "is-lupus-contagious", "can-asthma-go-away"):
        path = next(feed_settings.content_dir.rglob(f"{name}.md"))
        path.write_text(path.read_text("utf-8").replace("## ", "Extra line.\n\n## ", 1), "utf-8")
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 6 or (calls["n"] > 6 and not transient):
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(publish_module.os, "replace", failing_replace)
    with pytest.raises(PublishError, match="No space left"):
        build(feed_settings)
    monkeypatch.setattr(publish_module.os, "replace", real_replace)
    assert not [p for p in out.rglob("*.tmp")]
    for feed in feed_files(out):
        check_file(feed)
    for relative, record in read_manifest(out).items():
        data = (out / relative).read_bytes()
        if transient:
            assert record.etag == f'"{hashlib.sha256(data).hexdigest()}"', relative
    build(feed_settings)
    assert b"Extra line." in (out / "en/lupus/feed.atom").read_bytes()


def test_failure_while_staging_changes_nothing(
    feed_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    before = public_files(out)
    path = feed_settings.content_dir / "lupus" / "is-lupus-contagious.md"
    path.write_text(path.read_text("utf-8").replace("No. Lupus", "No: Lupus"), "utf-8")
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(publish_module.os, "fsync", failing_fsync)
    with pytest.raises(PublishError):
        build(feed_settings)
    assert public_files(out) == before
    assert not [p for p in out.rglob("*.tmp")]


def test_manifest_bytes_are_json_dumps_of_the_manifest() -> None:
    """The hand-written manifest is byte for byte what json.dumps(indent=1) writes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from syndicate.publication.manifest import FileRecord
    from syndicate.publication.manifest import manifest_bytes as _manifest_bytes

    text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
    size = st.one_of(st.integers(0, 10**12), st.floats(0, 10, allow_nan=False), st.booleans())
    record = st.builds(FileRecord, etag=text, last_modified=text, content_type=text, size=size,
                       status=st.sampled_from([200, 301, 410]),
                       location=st.one_of(st.none(), text))

    @settings(max_examples=300)
    @given(st.dictionaries(text, record, max_size=6))
    def agree(records: dict[str, FileRecord]) -> None:
        data = {"version": 1, "files": {path: records[path].to_dict()
                                        for path in sorted(records)}}
        expected = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        assert _manifest_bytes(records) == expected.encode()

    agree()


def test_fingerprint_is_the_joined_fields_digest() -> None:
    """The rendition fingerprint stays what earlier builds stored in their state."""
    from syndicate.publication.feeds import _LABEL_FIELDS, _RENDITION_FIELDS, fingerprint
    from syndicate.testing import make_rendition

    for rendition in (make_rendition(), make_rendition(review_due=None, stale_notice="x\ud800")):
        parts = [str(getattr(rendition, name)) for name in _RENDITION_FIELDS]
        parts += [str(getattr(rendition.labels, name)) for name in _LABEL_FIELDS]
        data = "\x00".join(parts).encode("utf-8", "surrogatepass")
        assert fingerprint(rendition) == hashlib.blake2b(data, digest_size=16).hexdigest()


def test_entries_carry_condition_publisher_reviewer_and_attribution_where_readers_look(
    feed_settings: Settings,
) -> None:
    build(feed_settings)
    out = feed_settings.out_dir
    atom = parse_feed((out / "ar/lupus/feed.atom").read_bytes())
    entry = next(e for e in atom.entries if e.link.endswith("what-causes-lupus.html"))
    assert entry.tags[0].term == "lupus" and entry.tags[0].label == "الذئبة"
    assert entry.tags[0].scheme == "urn:x-syndicate:condition"
    assert entry.author == "DiseaseMaps"
    assert [c.name for c in entry.contributors] == ["Dr. Ana Núñez"]  # the reviewer
    assert entry.summary.startswith('<div dir="rtl" lang="ar">')
    assert "المصدر: DiseaseMaps" in entry.summary and "إخلاء مسؤولية طبية" in entry.summary
    assert entry.content[0].value.startswith('<div dir="rtl" lang="ar">')
    rss = parse_feed((out / "ar/lupus/feed.rss").read_bytes()).entries[0]
    assert rss.author == "DiseaseMaps" and rss.tags[0].term == "الذئبة"  # RSS: the label
    assert rss.tags[0].scheme == "urn:x-syndicate:condition"
    assert "المصدر: DiseaseMaps" in rss.summary
    item = json.loads((out / "ar/lupus/feed.json").read_bytes())["items"][0]
    assert item["tags"] == ["الذئبة"] and item["authors"] == [{"name": "DiseaseMaps"}]
    assert item["_syndicate"]["condition"]["term"] == "lupus"
    assert "المصدر: DiseaseMaps" in item["summary"] and item["_syndicate"]["direction"] == "rtl"


def _store_files(out: Path) -> dict[str, int]:
    """Every file of the kept renditions, with its modification time."""
    store = out / STORE
    return {p.relative_to(store).as_posix(): p.stat().st_mtime_ns
            for p in sorted(store.rglob("*.json"))}


def test_a_changed_answer_rewrites_only_the_file_its_rendition_is_kept_in(
        tmp_path: Path) -> None:
    """The renditions a language published are kept in several files by answer: one
    answer re-reviewed rewrites one of them per language, and they read back whole."""
    generate_corpus(tmp_path, answers=40, languages=2)
    settings = Settings(content_dir=tmp_path / "content", locales_dir=tmp_path / "locales",
                        out_dir=tmp_path / "public")
    build(settings)
    out = settings.out_dir
    before = _store_files(out)
    assert len([name for name in before if name.startswith("en/")]) > 4
    path = sorted(settings.content_dir.rglob("*.md"))[0]
    path.write_text(re.sub(r"^reviewed: (\d{4})-(\d\d)-\d\d$", r"reviewed: \1-\2-27",
                           path.read_text("utf-8"), count=1, flags=re.M), "utf-8")
    build(settings, PUBLISHED_AT + dt.timedelta(days=1))
    after = _store_files(out)
    assert after.keys() == before.keys()
    rewritten = sorted(name for name in after if after[name] != before[name])
    assert [name.split("/")[0] for name in rewritten] == sorted(
        language for language in {name.split("/")[0] for name in after})
    for language in {name.split("/")[0] for name in after}:
        kept = read_renditions(out, language)
        assert len(kept) == 40
        assert {r.answer_id for r in kept.values()} == {
            r.answer_id for r in localize_corpus(settings).renditions[language]}


def test_renditions_kept_whole_by_an_earlier_version_still_serve(
        feed_settings: Settings) -> None:
    """A tree whose renditions an earlier version kept in one file per language: an answer
    whose file broke still keeps its last good version, and the next build moves the
    language to its folder."""
    build(feed_settings)
    out = feed_settings.out_dir
    for folder in sorted((out / STORE).iterdir()):
        kept = {answer_id: r.to_dict() for answer_id, r in
                read_renditions(out, folder.name).items()}
        (out / STORE / f"{folder.name}.json").write_text(json.dumps(kept), "utf-8")
        shutil.rmtree(folder)
    path = feed_settings.content_dir / "lupus" / "what-causes-lupus.md"
    path.write_text(path.read_text("utf-8").replace("reviewed: 2026-03-02",
                                                    "reviewed: 2026-13-02"), "utf-8")
    result = publish(feed_settings, localize_corpus(feed_settings))
    assert [r.kept for r in result.languages] == [1, 1]
    assert sorted(p.name for p in (out / STORE).iterdir()) == ["ar", "en"]
    assert all(read_renditions(out, language) for language in ("ar", "en"))
