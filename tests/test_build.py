"""The whole build: skipped when no input changed, redone when any did."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from syndicate.answers.catalogs import catalog_path
from syndicate.build import RECORD, build, inputs_fingerprint
from syndicate.config import Settings
from syndicate.publication import MANIFEST


def tree_bytes(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` except the build record, by relative path."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != RECORD}


def test_unchanged_inputs_skip_the_build_and_leave_the_tree_byte_identical(
    feed_settings: Settings,
) -> None:
    first = build(feed_settings)
    before = tree_bytes(feed_settings.out_dir)
    again = build(feed_settings)
    assert not first.skipped and again.skipped
    assert tree_bytes(feed_settings.out_dir) == before
    assert again.result.languages == first.result.languages
    assert again.result.unchanged == len(first.result.written)
    assert again.result.written == () and again.errors == first.errors
    assert again.warnings == first.warnings


def test_a_skipped_build_matches_a_real_rebuild(feed_settings: Settings) -> None:
    """Removing the record forces the full path: same tree, nothing written."""
    build(feed_settings)
    before = tree_bytes(feed_settings.out_dir)
    (feed_settings.out_dir / RECORD).unlink()
    full = build(feed_settings)
    assert not full.skipped and full.result.written == ()
    assert tree_bytes(feed_settings.out_dir) == before


def test_changing_one_catalog_rebuilds_that_language(feed_settings: Settings) -> None:
    build(feed_settings)
    po = catalog_path(feed_settings.locales_dir, "ar")
    text = po.read_text("utf-8")
    po.write_text(text.replace('msgstr "الذئبة"', 'msgstr "مرض الذئبة"', 1), "utf-8")
    assert text != po.read_text("utf-8")
    again = build(feed_settings)
    assert not again.skipped
    assert again.result.written and all(path.startswith(("ar/", "index.html", "feeds.opml"))
                                        or "/" not in path for path in again.result.written)


def test_changing_one_answer_rebuilds_its_renditions(feed_settings: Settings) -> None:
    build(feed_settings)
    answer = next(feed_settings.content_dir.rglob("can-asthma-go-away.md"))
    answer.write_text(answer.read_text("utf-8") + "\nOne more paragraph of the answer.\n",
                      "utf-8")
    again = build(feed_settings)
    assert not again.skipped
    assert any("can-asthma-go-away" in path for path in again.result.written)


def test_settings_and_tampered_trees_invalidate_the_record(feed_settings: Settings) -> None:
    build(feed_settings)
    other = dataclasses.replace(feed_settings, base_url="https://elsewhere.example")
    assert inputs_fingerprint(other) != inputs_fingerprint(feed_settings)
    # A published file deleted or truncated behind the build's back is rebuilt.
    page = next(feed_settings.out_dir.rglob("*.html"))
    page.unlink()
    again = build(feed_settings)
    assert not again.skipped and page.is_file()
    manifest = feed_settings.out_dir / MANIFEST
    manifest.write_bytes(manifest.read_bytes() + b" ")
    assert not build(feed_settings).skipped
    assert build(feed_settings).skipped


def test_the_page_templates_are_inputs_of_the_build(
    feed_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A changed template or stylesheet rebuilds: the pages are made from them."""
    from syndicate import incremental as build_module

    package = feed_settings.out_dir.parent / "package"
    shutil.copytree(build_module.PACKAGE_DIR / "publication" / "templates",
                    package / "publication" / "templates")
    shutil.copytree(build_module.PACKAGE_DIR / "schemas", package / "schemas")
    monkeypatch.setattr(build_module, "PACKAGE_DIR", package)
    before = inputs_fingerprint(feed_settings)
    style = package / "publication" / "templates" / "style.css"
    style.write_text(style.read_text("utf-8") + "\n/* changed */\n", "utf-8")
    assert inputs_fingerprint(feed_settings) != before
