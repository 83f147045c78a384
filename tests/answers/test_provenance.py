"""The medical review of a translation: recorded in the catalog, validated, required for
doses (by default), and carried into the feeds and the events.

The reviewer names here are test fixtures, not real people.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import feedparser
import pytest

from syndicate.answers.catalogs import catalog_path, read_catalog
from syndicate.answers.provenance import read_reviews
from syndicate.answers.translators import check_language
from syndicate.build import build
from syndicate.config import load_settings
from syndicate.testing import make_rendition
from syndicate.webhooks.events import Change, payloads
from tests.cli.test_i18n import add_dose_answer, line_of, project

__all__ = ["project"]

REVISED = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
FIXTURE_REVIEWER = "Dr. Test Fixture (not a real reviewer)"


def entry(comment: str, context: str = "dose-example") -> str:
    return f'{comment}\nmsgctxt "{context}"\nmsgid "How much is a dose?"\nmsgstr "x"\n'


def test_a_record_is_read_with_its_line() -> None:
    text = "\n" + entry(f"# medical-review: 2026-11-19 {FIXTURE_REVIEWER}")
    reviews, problems = read_reviews(text, REVISED)
    assert problems == {}
    assert reviews["dose-example"].as_dict() == {"reviewed": "2026-11-19",
                                                 "reviewed_by": FIXTURE_REVIEWER}
    assert reviews["dose-example"].line == 2


@pytest.mark.parametrize(("comment", "problem"), [
    ("# medical-review: 2026-13-01 Dr. X", "2026-13-01 is not a date"),
    ("# medical-review: 2026-11-21 Dr. X", "2026-11-21 is after the file's PO-Revision-Date "
                                            "2026-11-20"),
    ("# medical-review: Dr. X", "expected a date and the reviewer's name"),
    ("# medical-review: 2026-11-19 1234", "the reviewer's name must be 1 to 120 printable "
                                         "characters"),
])
def test_a_bad_record_is_refused_with_its_line(comment: str, problem: str) -> None:
    reviews, problems = read_reviews("\n" + entry(comment), REVISED)
    assert reviews == {}
    assert problems == {4: [f"medical review record at line 2: {problem} "
                            "(write '# medical-review: YYYY-MM-DD Name of the reviewer')"]}


def _record(path: Path, comment: str) -> None:
    text = path.read_text(encoding="utf-8")
    anchor = 'msgctxt "dose-example"\nmsgid "How much is a dose?"'
    assert anchor in text
    path.write_text(text.replace(anchor, f"{comment}\n{anchor}", 1), encoding="utf-8")


def _settings(project: Path, **overrides: object) -> object:
    return load_settings(overrides={
        "content_dir": project / "content", "locales_dir": project / "locales",
        "out_dir": project / "public", "state_dir": project / "state",
        "base_url": "https://feeds.example.org", **overrides})


def _es_items(project: Path) -> tuple[list[dict[str, object]], object]:
    data = json.loads((project / "public" / "es" / "feed.json").read_bytes())
    atom = feedparser.parse((project / "public" / "es" / "feed.atom").read_bytes())
    return [i for i in data["items"] if i["external_url"].endswith("/lupus/dose")], atom


def test_a_dose_translation_publishes_only_with_a_review(project: Path) -> None:
    path = add_dose_answer(project)
    catalog = read_catalog(path, "es")
    key = ("dose-example", "Take 75 mg twice a day, as the [label](https://example.org/label) "
                           "says.")
    assert catalog.usable(key) is None
    assert catalog.why_not(key) == (
        "carries a dose: needs a recorded medical review of this answer's translation "
        "('# medical-review: YYYY-MM-DD Name of the reviewer' on the answer's title)")
    outcome = build(_settings(project))  # type: ignore[arg-type]
    items, _ = _es_items(project)
    assert items == []  # not published in Spanish; English and the other answer are
    assert not outcome.errors
    # a reviewer records the review in the catalog, as in Poedit's comment field
    _record(path, f"# medical-review: 2026-05-01 {FIXTURE_REVIEWER}")
    assert check_language(project / "locales", "es") == []
    build(_settings(project))  # type: ignore[arg-type]
    items, atom = _es_items(project)
    assert items and items[0]["_syndicate"]["translation_reviewed"] == "2026-05-01"  # type: ignore[index]
    assert items[0]["_syndicate"]["translation_reviewed_by"] == FIXTURE_REVIEWER  # type: ignore[index]
    entry_ = next(e for e in atom.entries if e.get("review_original", "").endswith("/dose"))
    assert entry_["review_translationreviewed"] == "2026-05-01"
    assert entry_["review_translationreviewedby"] == FIXTURE_REVIEWER


def test_the_setting_lets_unreviewed_dose_translations_publish(project: Path) -> None:
    add_dose_answer(project)
    build(_settings(project, require_translation_review=False))  # type: ignore[arg-type]
    items, _ = _es_items(project)
    assert items and "translation_reviewed" not in items[0]["_syndicate"]  # type: ignore[operator]


def test_a_mistyped_record_blocks_the_answer_with_its_line(project: Path) -> None:
    path = add_dose_answer(project)
    _record(path, f"# medical-review: 2026-02-30 {FIXTURE_REVIEWER}")
    record = line_of(path, "# medical-review:")
    msgid = line_of(path, 'msgid "How much is a dose?"')
    assert [str(p) for p in check_language(project / "locales", "es")] == [
        f"{path}:{msgid}: dose-example: medical review record at line {record}: 2026-02-30 is "
        "not a date (write '# medical-review: YYYY-MM-DD Name of the reviewer')"]


def test_events_carry_the_review_beside_the_source_review() -> None:
    rendition = make_rendition(translation_reviewed=dt.date(2026, 4, 7),
                               translation_reviewed_by=FIXTURE_REVIEWER, language="es")
    thin, _ = payloads(Change("answer.published", rendition, 1, "lupus/a.md", None), "https://x.example",
                       dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    data = json.loads(thin)["data"]
    assert (data["reviewed"], data["translation_reviewed"], data["translation_reviewed_by"]) \
        == ("2026-04-06", "2026-04-07", FIXTURE_REVIEWER)
    plain, _ = payloads(Change("answer.published", make_rendition(), 1, "lupus/a.md", None),
                        "https://x.example", dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    assert "translation_reviewed" not in json.loads(plain)["data"]


def test_bundled_catalogs_publish_without_invented_reviews(tmp_path: Path) -> None:
    """The bundled answer carries no dose, so no review is needed, and none is recorded."""
    from tests.support import ROOT
    for language in ("ar", "de", "es", "fr", "zh-Hans"):
        catalog = read_catalog(catalog_path(ROOT / "locales", language), language)
        assert catalog.reviews == {}
        assert not any(catalog.unreviewed_dose(key) for key in catalog.entries)
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    outcome = build(_settings(tmp_path))  # type: ignore[arg-type]
    assert not outcome.errors
