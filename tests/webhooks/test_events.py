"""Change detection: which events a new localization makes against the stored state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from syndicate.answers.localize import Rendition
from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.publication import entry_id
from syndicate.webhooks import events as ev
from tests.support import ANSWER_FILE, hook_settings, set_front_matter

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


def _stored(plan: ev.ChangeSet, previous: dict[tuple[str, str], ev.StoredRendition] | None = None
            ) -> dict[tuple[str, str], ev.StoredRendition]:
    """What the store would hold after applying ``plan``."""
    state = dict(previous or {})
    for change in plan.changes:
        state[(change.answer_id, change.language)] = ev.StoredRendition(
            change.rendition, change.version, change.rendition.content_hash, change.withdrawn,
            change.source_path, NOW,
        )
    return state


def _settings(workspace: Path) -> Settings:
    return hook_settings(workspace, "sqlite://")


def _types(plan: ev.ChangeSet) -> list[tuple[str, str]]:
    return sorted((change.type, change.language) for change in plan.changes)


def test_first_sync_publishes_every_complete_language(workspace: Path) -> None:
    """Nothing stored: every complete rendition is ``answer.published``."""
    plan = ev.diff(localize_corpus(_settings(workspace)), {})
    assert _types(plan) == [("answer.published", "de"), ("answer.published", "en")]


def test_unchanged_content_makes_no_event(workspace: Path) -> None:
    """A second diff over the same input is empty, with the same renditions to publish."""
    localization = localize_corpus(_settings(workspace))
    first = ev.diff(localization, {})
    second = ev.diff(localization, _stored(first))
    assert second.changes == ()
    assert second.renditions == first.renditions


def test_new_review_date_is_answer_reviewed_in_each_language(workspace: Path) -> None:
    """The main event: the review date changed, with the previous one in the payload."""
    settings = _settings(workspace)
    stored = _stored(ev.diff(localize_corpus(settings), {}))
    set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "2026-06-01")
    plan = ev.diff(localize_corpus(settings), stored)
    assert _types(plan) == [("answer.reviewed", "de"), ("answer.reviewed", "en")]
    thin, full = ev.payloads(plan.changes[0], settings.base_url, NOW)
    data = json.loads(thin)["data"]
    assert (data["reviewed"], data["previous_reviewed"]) == ("2026-06-01", "2026-04-06")
    assert "rendition" not in data and "rendition" in json.loads(full)["data"]
    assert len(full.encode()) < ev.MAX_PAYLOAD_BYTES


def test_text_change_without_review_is_answer_updated(workspace: Path) -> None:
    """Same review date, different content."""
    settings = _settings(workspace)
    stored = _stored(ev.diff(localize_corpus(settings), {}))
    set_front_matter(workspace / "content" / ANSWER_FILE, "experiences", "16")
    assert _types(ev.diff(localize_corpus(settings), stored)) == [
        ("answer.updated", "de"), ("answer.updated", "en")
    ]


def test_withdrawn_answer_is_answer_withdrawn(workspace: Path) -> None:
    """``status: withdrawn`` withdraws every language."""
    settings = _settings(workspace)
    stored = _stored(ev.diff(localize_corpus(settings), {}))
    set_front_matter(workspace / "content" / ANSWER_FILE, "status", "withdrawn")
    plan = ev.diff(localize_corpus(settings), stored)
    assert _types(plan) == [("answer.withdrawn", "de"), ("answer.withdrawn", "en")]
    assert plan.renditions == {"en": (), "de": ()}


def test_unreadable_answer_file_withdraws_nothing(workspace: Path) -> None:
    """A typo must not withdraw an answer from every partner: the last version stays."""
    settings = _settings(workspace)
    first = ev.diff(localize_corpus(settings), {})
    set_front_matter(workspace / "content" / ANSWER_FILE, "reviewed", "not-a-date")
    plan = ev.diff(localize_corpus(settings), _stored(first))
    assert plan.changes == ()
    assert plan.renditions == first.renditions


def test_re_review_with_lagging_translation_is_translation_stale(workspace: Path) -> None:
    """The source is re-reviewed and changed; German is now incomplete: it keeps its last
    complete rendition, marked stale, announced once."""
    settings = _settings(workspace)
    stored = _stored(ev.diff(localize_corpus(settings), {}))
    answer = workspace / "content" / ANSWER_FILE
    set_front_matter(answer, "reviewed", "2026-06-01")
    answer.write_text(answer.read_text() + "\nA new paragraph nobody translated yet.\n")
    plan = ev.diff(localize_corpus(settings), stored)
    assert _types(plan) == [("answer.reviewed", "en"), ("translation.stale", "de")]
    (german,) = plan.renditions["de"]
    assert german.stale and german.reviewed == dt.date(2026, 4, 6)
    assert german.source_reviewed == dt.date(2026, 6, 1)
    again = ev.diff(localize_corpus(settings), _stored(plan, stored))
    assert again.changes == ()
    assert again.renditions["de"] == (german,)


def test_event_ids_are_deterministic_and_distinct() -> None:
    """Same identity, same id; anything different, a different id."""
    first = ev.event_id("answer.reviewed", "a1", "de", 2, "h")
    assert first == ev.event_id("answer.reviewed", "a1", "de", 2, "h")
    assert first.startswith("msg_")
    others = {
        ev.event_id("answer.updated", "a1", "de", 2, "h"),
        ev.event_id("answer.reviewed", "a2", "de", 2, "h"),
        ev.event_id("answer.reviewed", "a1", "fr", 2, "h"),
        ev.event_id("answer.reviewed", "a1", "de", 3, "h"),
        ev.event_id("answer.reviewed", "a1", "de", 2, "i"),
    }
    assert first not in others and len(others) == 5


def test_stored_rendition_round_trips(workspace: Path) -> None:
    """What the store keeps is the rendition, field for field."""
    (rendition,) = localize_corpus(_settings(workspace)).renditions["de"]
    assert Rendition.from_dict(json.loads(ev.encode(rendition.to_dict()))) == rendition


def test_updated_comes_from_the_store_once_it_knows_the_rendition(workspace: Path) -> None:
    """Unchanged content keeps its stored date; a change is dated when it is recorded."""
    localization = localize_corpus(_settings(workspace))
    first = ev.diff(localization, {})
    english = first.renditions["en"][0]
    stored = _stored(first)
    moved = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    later = dataclasses.replace(
        localization,
        renditions={"en": (dataclasses.replace(english, updated=moved),)},
    )
    again = ev.diff(later, stored, now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    assert again.renditions["en"][0].updated == english.updated  # same content: stored date
    edited = dataclasses.replace(english, title="What causes Lupus, really?")
    changed = ev.diff(
        dataclasses.replace(localization, renditions={"en": (edited,)}),
        stored,
        now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    )
    assert changed.renditions["en"][0].updated == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def test_payload_names_the_page_the_feed_entry_the_reviewer_and_a_moved_pages_old_url(
    workspace: Path,
) -> None:
    settings = _settings(workspace)
    first = ev.diff(localize_corpus(settings), {})
    german = next(change for change in first.changes if change.language == "de")
    data = json.loads(ev.payloads(german, settings.base_url, NOW)[0])["data"]
    assert data["page_url"] == "https://answers.example/de/lupus/what-causes-lupus.html"
    assert data["entry_id"] == entry_id("75da64d16c9fcccc", "de")
    assert data["condition"] == "lupus" and data["condition_name"] == "Lupus"
    assert data["previous_page_url"] is None
    assert "reviewed_by" in data
    stored = _stored(first)
    answer = workspace / "content" / ANSWER_FILE
    answer.rename(answer.with_name("causes-of-lupus.md"))
    moved = ev.diff(localize_corpus(settings), stored)
    assert _types(moved) == [("answer.updated", "de"), ("answer.updated", "en")]
    for change in moved.changes:
        data = json.loads(ev.payloads(change, settings.base_url, NOW)[0])["data"]
        lang = change.language
        assert data["page_url"] == f"https://answers.example/{lang}/lupus/causes-of-lupus.html"
        assert data["previous_page_url"] == \
            f"https://answers.example/{lang}/lupus/what-causes-lupus.html"


def test_review_reminders_come_once_per_answer_and_due_date(workspace: Path) -> None:
    """answer.review_due from review_notice_days before the date, answer.review_overdue
    after it; the ids derive from the due date, so the store keeps one of each."""
    settings = _settings(workspace)
    set_front_matter(workspace / "content" / ANSWER_FILE, "review_due", "2026-07-15")
    loc = localize_corpus(settings)
    early = ev.diff(loc, {}, dt.datetime(2026, 6, 1, tzinfo=dt.UTC), 30)
    assert early.reminders == ()
    near = ev.diff(loc, {}, dt.datetime(2026, 6, 20, tzinfo=dt.UTC), 30)
    assert sorted((r.type, r.rendition.language) for r in near.reminders) == [
        ("answer.review_due", "de"), ("answer.review_due", "en")]
    later = ev.diff(loc, {}, dt.datetime(2026, 6, 25, tzinfo=dt.UTC), 30)
    assert [r.event_id for r in later.reminders] == [r.event_id for r in near.reminders]
    overdue = ev.diff(loc, {}, dt.datetime(2026, 7, 16, tzinfo=dt.UTC), 30)
    assert {r.type for r in overdue.reminders} == {"answer.review_overdue"}
    data = json.loads(ev.reminder_payloads(overdue.reminders[0], settings.base_url, NOW)[0])
    assert data["type"] == "answer.review_overdue" and data["data"]["due_date"] == "2026-07-15"
    set_front_matter(workspace / "content" / ANSWER_FILE, "review_due", "2027-01-15")
    moved = ev.diff(localize_corpus(settings), {}, dt.datetime(2027, 1, 16, tzinfo=dt.UTC), 30)
    assert {r.event_id for r in moved.reminders}.isdisjoint(r.event_id for r in overdue.reminders)
