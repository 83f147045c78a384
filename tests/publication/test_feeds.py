"""Feed rendering: Atom, RSS and JSON Feed documents from renditions (pure, no files)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from syndicate.errors import FeedError
from syndicate.publication import atom as atom_rss
from syndicate.publication import feeds, formats, jsonfeed, layout
from syndicate.publication.paging import paginate
from syndicate.testing import make_rendition
from tests.support import assert_valid_atom, assert_valid_json_feed, parse_feed

BASE = "https://feeds.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"
UTC = dt.UTC


def make_item(**overrides: Any) -> feeds.Item:
    """An item over :func:`make_rendition`; ``translations`` and ``published`` may be given."""
    translations = overrides.pop("translations", ())
    published = overrides.pop("published", None)
    rendition = make_rendition(**overrides)
    link = f"{BASE}/{rendition.language}/{rendition.condition_slug}/{rendition.slug}.html"
    return feeds.Item(rendition, link, published or rendition.updated, tuple(translations))


def make_doc(items: list[feeds.Item], **overrides: Any) -> feeds.Document:
    language = items[0].rendition.language if items else "en"
    values: dict[str, Any] = {
        "feed_id": feeds.feed_id(f"{language}/feed"),
        "language": language,
        "title": "DiseaseMaps: health answers",
        "subtitle": "Medically reviewed answers.",
        "publisher": "DiseaseMaps",
        "base": f"{BASE}/{language}/feed",
        "home_page_url": f"{BASE}/{language}/",
        "hub_url": f"{BASE}/websub",
        "items": feeds.newest_first(items),
        "updated": feeds.newest(items, dt.datetime(2020, 1, 1, tzinfo=UTC)),
        "complete": True,
    }
    values.update(overrides)
    return feeds.Document(**values)


ARABIC = make_item(
    answer_id="aaaa000000000001",
    language="ar",
    direction="rtl",
    title="هل الذئبة معدية؟ café & <b>R&D</b> < 5",
    summary_html="<p>لا. الذئبة ليست معدية &amp; café &lt; 5</p>",
    summary_text="لا. الذئبة ليست معدية & café < 5",
    body_html="<p>لا. الذئبة ليست معدية &amp; café &lt; 5</p>\n<h2>ماذا تقول للعائلة</h2>",
    condition="الذئبة",
    translations=[feeds.Translation("en", f"{BASE}/en/lupus/a.html", "Is Lupus contagious?"),
                  feeds.Translation("es", f"{BASE}/es/lupus/a.html", "¿Es contagioso?")],
)


def test_every_format_is_valid_and_parses_without_bozo() -> None:
    doc = make_doc([ARABIC, make_item(answer_id="aaaa000000000002", language="ar")])
    assert_valid_atom(atom_rss.render_atom(doc))
    parse_feed(atom_rss.render_atom(doc))
    parse_feed(atom_rss.render_rss(doc))
    assert_valid_json_feed(jsonfeed.render_json(doc))


def test_non_ascii_text_round_trips_exactly_in_all_formats() -> None:
    doc = make_doc([ARABIC])
    title = ARABIC.rendition.title
    atom = parse_feed(atom_rss.render_atom(doc))
    assert atom.entries[0].title == title
    summary = atom.entries[0].summary
    assert summary.startswith('<div dir="rtl" lang="ar">' + ARABIC.rendition.summary_html)
    assert ARABIC.rendition.labels.disclaimer in summary and "Source: DiseaseMaps" in summary
    assert atom.entries[0].content[0].value.startswith(
        '<div dir="rtl" lang="ar">' + ARABIC.rendition.body_html)
    rss = parse_feed(atom_rss.render_rss(doc))
    # RSS has no text/HTML distinction: a title that looks like markup is HTML-escaped so
    # readers show it literally; its HTML reading is the original text.
    assert rss.entries[0].title_detail.type == "text/html"
    assert_html_text(rss.entries[0].title, title)
    data = json.loads(jsonfeed.render_json(doc))
    assert data["items"][0]["title"] == title
    assert data["items"][0]["summary"].startswith(ARABIC.rendition.summary_text + "\n\n")
    assert ARABIC.rendition.labels.disclaimer in data["items"][0]["summary"]


def assert_html_text(html_text: str, expected: str) -> None:
    import html

    assert html.unescape(html_text) == expected


def test_plain_title_with_ampersand_and_less_than_is_plain_in_rss() -> None:
    item = make_item(title="Sjögren & lupus: < 5 % — مرض")
    rss = parse_feed(atom_rss.render_rss(make_doc([item])))
    assert rss.entries[0].title == "Sjögren & lupus: < 5 % — مرض"


def test_title_with_markup_is_escaped_text_not_markup() -> None:
    item = make_item(title="Is <script>alert(1)</script> <b>bold</b>?")
    atom = atom_rss.render_atom(make_doc([item]))
    root = etree.fromstring(atom)
    title = root.find(f"{ATOM}entry/{ATOM}title")
    assert title is not None and title.get("type") is None  # text construct
    assert title.text == "Is <script>alert(1)</script> <b>bold</b>?"
    assert b"<script>" not in atom
    rss = atom_rss.render_rss(make_doc([item]))
    assert b"<script>" not in rss and b"&amp;lt;script&amp;gt;" in rss


def test_entry_id_is_stable_when_content_changes() -> None:
    before = make_item()
    after = make_item(title="A new question", body_html="<p>New text</p>",
                      updated=dt.datetime(2026, 6, 1, tzinfo=UTC))
    assert before.id == after.id
    assert before.id != make_item(language="es").id
    parsed = [parse_feed(atom_rss.render_atom(make_doc([item]))) for item in (before, after)]
    assert parsed[0].entries[0].id == parsed[1].entries[0].id == before.id
    rss = parse_feed(atom_rss.render_rss(make_doc([after])))
    assert rss.entries[0].id == before.id
    assert rss.entries[0].guidislink is False


def test_feed_updated_is_the_newest_entry_never_the_build_time() -> None:
    old = make_item(answer_id="aaaa000000000001", updated=dt.datetime(2025, 1, 1, tzinfo=UTC))
    new = make_item(answer_id="aaaa000000000002", updated=dt.datetime(2026, 2, 3, tzinfo=UTC))
    doc = make_doc([old, new])
    atom = etree.fromstring(atom_rss.render_atom(doc))
    assert atom.findtext(f"{ATOM}updated") == "2026-02-03T00:00:00+00:00"
    rss = etree.fromstring(atom_rss.render_rss(doc))
    assert rss.findtext("channel/lastBuildDate") == "Tue, 03 Feb 2026 00:00:00 +0000"
    assert json.loads(jsonfeed.render_json(doc))["_syndicate"]["updated"] == "2026-02-03T00:00:00Z"
    # Rendering twice gives the same bytes: nothing depends on the clock.
    for render in (atom_rss.render_atom, atom_rss.render_rss, jsonfeed.render_json):
        assert render(doc) == render(doc)


def test_entries_are_newest_first_whatever_the_input_order() -> None:
    items = [make_item(answer_id=f"aaaa00000000000{n}",
                       updated=dt.datetime(2026, 1, n, tzinfo=UTC)) for n in (2, 1, 3)]
    doc = make_doc(items)
    expected = [item.id for item in sorted(items, key=lambda i: i.updated, reverse=True)]
    for render in (atom_rss.render_atom, atom_rss.render_rss):
        assert [e.id for e in parse_feed(render(doc)).entries] == expected
    assert [i["id"] for i in json.loads(jsonfeed.render_json(doc))["items"]] == expected


def test_translations_are_alternates_with_hreflang_and_entries_have_xml_lang() -> None:
    atom = etree.fromstring(atom_rss.render_atom(make_doc([ARABIC])))
    entry = atom.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.get("{http://www.w3.org/XML/1998/namespace}lang") == "ar"
    alternates = [(link.get("type"), link.get("hreflang"), link.get("href"))
                  for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate"]
    assert {hreflang for _, hreflang, _ in alternates} == {"ar", "en", "es"}
    pairs = [(kind, hreflang) for kind, hreflang, _ in alternates]
    assert len(pairs) == len(set(pairs))
    via = [link.get("href") for link in entry.findall(f"{ATOM}link") if link.get("rel") == "via"]
    assert via == [ARABIC.rendition.url]
    parsed = parse_feed(atom_rss.render_atom(make_doc([ARABIC])))
    assert parsed.entries[0].link == ARABIC.link
    data = json.loads(jsonfeed.render_json(make_doc([ARABIC])))
    assert data["language"] == "ar" and data["items"][0]["language"] == "ar"
    assert [t["language"] for t in data["items"][0]["_syndicate"]["translations"]] == ["en", "es"]


def test_rss_item_link_is_the_entry_page_not_the_last_alternate() -> None:
    rss = parse_feed(atom_rss.render_rss(make_doc([ARABIC])))
    assert rss.entries[0].link == ARABIC.link
    assert rss.feed.link == f"{BASE}/ar/"


def test_self_and_hub_links_in_all_three_formats() -> None:
    doc = make_doc([ARABIC])
    for render, fmt in ((atom_rss.render_atom, "atom"), (atom_rss.render_rss, "rss")):
        root = etree.fromstring(render(doc))
        links = {(link.get("rel"), link.get("href")) for link in root.iter(f"{ATOM}link")}
        assert ("self", doc.url(fmt)) in links
        assert ("hub", f"{BASE}/websub") in links
    data = json.loads(jsonfeed.render_json(doc))
    assert data["feed_url"] == doc.url("json")
    assert data["hubs"] == [{"type": "WebSub", "url": f"{BASE}/websub"}]


def test_review_dates_are_extension_elements_and_json_extension() -> None:
    stale = make_item(reviewed=dt.date(2025, 1, 2), source_reviewed=dt.date(2026, 3, 4),
                      review_due=dt.date(2026, 1, 2), reviewed_by="Dr. Núñez",
                      stale_notice="This translation shows an older version.")
    doc = make_doc([stale])
    ns = {"r": feeds.REVIEW_NS}
    for render in (atom_rss.render_atom, atom_rss.render_rss):
        root = etree.fromstring(render(doc))
        assert root.xpath("//r:lastReviewed/text()", namespaces=ns) == ["2025-01-02"]
        assert root.xpath("//r:nextReviewDue/text()", namespaces=ns) == ["2026-01-02"]
        assert root.xpath("//r:reviewedBy/text()", namespaces=ns) == ["Dr. Núñez"]
        assert root.xpath("//r:sourceReviewed/text()", namespaces=ns) == ["2026-03-04"]
        assert root.xpath("//r:stale/text()", namespaces=ns) == ["true"]
    review = json.loads(jsonfeed.render_json(doc))["items"][0]["_syndicate"]
    assert review["last_reviewed"] == "2025-01-02" and review["stale"] is True
    assert review["source_reviewed"] == "2026-03-04"
    content = json.loads(jsonfeed.render_json(doc))["items"][0]["content_html"]
    assert "older version" in content and "Medical Disclaimer" in content
    fresh = etree.fromstring(atom_rss.render_atom(make_doc([make_item()])))
    assert fresh.xpath("//r:stale", namespaces=ns) == []


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b", "\ud800", "\ufffe"])
@pytest.mark.parametrize("field", ["title", "body_html", "summary_text"])
def test_unencodable_characters_are_refused_naming_answer_and_language(
    bad: str, field: str
) -> None:
    item = make_item(answer_id="bad0000000000001", language="es", **{field: f"a{bad}b"})
    for render in (atom_rss.render_atom, atom_rss.render_rss, jsonfeed.render_json):
        with pytest.raises(FeedError) as caught:
            render(make_doc([item]))
        assert caught.value.answer_id == "bad0000000000001"
        assert caught.value.language == "es"
        assert "bad0000000000001 (es)" in str(caught.value) and field in str(caught.value)


def test_control_character_in_a_translated_label_is_refused() -> None:
    item = make_item(labels={"disclaimer": "Aviso\x0c médico"}, language="es")
    with pytest.raises(FeedError, match=r"labels\.disclaimer"):
        atom_rss.render_atom(make_doc([item]))


def test_naive_datetimes_are_refused() -> None:
    naive = make_item(updated=dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(FeedError, match="no time zone"):
        atom_rss.render_atom(make_doc([naive], updated=dt.datetime(2026, 1, 1, tzinfo=UTC)))
    good = make_item()
    with pytest.raises(FeedError, match="no time zone"):
        jsonfeed.render_json(make_doc([good], updated=dt.datetime(2026, 1, 1)))  # noqa: DTZ001


def test_a_very_long_answer_is_carried_whole() -> None:
    body = "".join(f"<p>Paragraph {n} with café &amp; مرض.</p>\n" for n in range(20000))
    item = make_item(body_html=body)
    atom = atom_rss.render_atom(make_doc([item]))
    assert len(atom) > 1_000_000
    assert_valid_atom(atom)
    parsed = parse_feed(atom)
    assert "Paragraph 19999 with café" in parsed.entries[0].content[0].value
    data = json.loads(jsonfeed.render_json(make_doc([item])))
    assert len(data["items"][0]["content_html"]) > len(body)


def test_archive_documents_link_current_and_previous_and_are_not_complete() -> None:
    doc = make_doc([make_item()], base=f"{BASE}/en/archive/2", current=f"{BASE}/en/feed",
                   prev_archive=f"{BASE}/en/archive/1", complete=False)
    root = etree.fromstring(atom_rss.render_atom(doc))
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links["current"] == f"{BASE}/en/feed.atom"
    assert links["prev-archive"] == f"{BASE}/en/archive/1.atom"
    fh = "{http://purl.org/syndication/history/1.0}"
    assert root.find(f"{fh}archive") is not None and root.find(f"{fh}complete") is None
    data = json.loads(jsonfeed.render_json(doc))
    assert data["next_url"] == f"{BASE}/en/archive/1.json"
    complete = etree.fromstring(atom_rss.render_atom(make_doc([make_item()])))
    assert complete.find(f"{fh}complete") is not None


def _items(count: int, start: int = 0) -> list[feeds.Item]:
    return [
        make_item(answer_id=f"{n:016x}", updated=dt.datetime(2026, 1, 1, tzinfo=UTC)
                  + dt.timedelta(hours=n))
        for n in range(start, start + count)
    ]


def test_plan_keeps_existing_pages_when_entries_are_added() -> None:
    first = paginate(_items(7), size=3)
    assert [len(page) for page in first.archives] == [3, 3]
    assert len(first.current) == 3
    later = paginate(_items(12), size=3, frozen=first.pages)
    assert later.pages[:2] == first.pages
    assert len(later.pages) == 3
    covered = {i.id for i in later.current} | {i.id for page in later.archives for i in page}
    assert covered == {item.id for item in _items(12)}


def test_plan_keeps_membership_when_an_archived_entry_changes_and_drops_withdrawn() -> None:
    items = _items(7)
    first = paginate(items, size=3)
    changed = [dataclasses.replace(item, rendition=dataclasses.replace(
        item.rendition, updated=dt.datetime(2026, 5, 1, tzinfo=UTC))) if n == 0 else item
        for n, item in enumerate(items)]
    second = paginate(changed, size=3, frozen=first.pages)
    assert second.pages == first.pages
    assert second.current[0].id == items[0].id  # the changed entry is in the current feed
    withdrawn = paginate(items[1:], size=3, frozen=first.pages)
    assert items[0].id not in withdrawn.pages[0]


def test_a_small_feed_is_complete_and_has_no_archives() -> None:
    result = paginate(_items(3), size=3)
    assert result.archives == () and len(result.current) == 3


# -- property: any Unicode text gives valid feeds or a FeedError naming answer and language --

_NASTY = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x80", "\x85", "\x9f", "\ud800",
          "\udfff", "\ufeff", "\ufffe", "\uffff", "\r", "\r\n", "\u2028", "\u202e", "]]>", "<![CDATA[",
          "&", "&amp;", "<b>", "</content>", "<?xml?>", "\U0001f600", "\U0010ffff", "\ufdd0"]
_ANY_TEXT = st.lists(st.sampled_from(_NASTY) | st.text(st.characters(exclude_categories=()), max_size=8),
                     max_size=8).map("".join)


_CLEAN_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=20)
_TEXT_FIELDS = ("title", "summary", "body", "condition", "reviewer", "notice", "disclaimer",
                "other_title")


@settings(max_examples=300, deadline=None)
@given(hostile=st.sets(st.sampled_from(_TEXT_FIELDS), min_size=1, max_size=3),
       fmt=st.sampled_from(layout.FORMATS), data=st.data())
def test_any_text_gives_valid_feeds_or_a_feed_error_naming_answer_and_language(
    hostile: set[str], fmt: layout.Format, data: st.DataObject,
) -> None:
    """Control characters, lone surrogates, non-characters, CDATA ends and markup in one
    to three text fields (the others plain): the document is well-formed and valid
    (RELAX NG, JSON Feed schema, no feedparser bozo) with the text intact, or a FeedError
    names the answer and language."""
    text = {name: data.draw(_ANY_TEXT.map(lambda t: t or "x") if name in hostile else _CLEAN_TEXT,
                            label=name) for name in _TEXT_FIELDS}
    title, summary, body = text["title"], text["summary"], text["body"]
    condition, reviewer, notice = text["condition"], text["reviewer"], text["notice"]
    disclaimer, other_title = text["disclaimer"], text["other_title"]
    item = make_item(
        answer_id="f00d000000000001", language="es", title=title, summary_html=summary,
        summary_text=summary, body_html=body, condition=condition, reviewed_by=reviewer,
        stale_notice=notice, labels={"disclaimer": disclaimer},
        translations=[feeds.Translation("en", f"{BASE}/en/lupus/a.html", other_title)],
    )
    doc = make_doc([item])
    try:
        out = formats.render(doc, fmt)
    except FeedError as exc:
        assert (exc.answer_id, exc.language) == ("f00d000000000001", "es")
        assert "f00d000000000001 (es)" in str(exc)
        return
    if fmt == "json":
        parsed = assert_valid_json_feed(out)
        assert parsed["items"][0]["title"] == title
        assert parsed["items"][0]["_syndicate"]["translations"][0]["title"] == other_title
        return
    root = etree.fromstring(out)  # well-formed, or this raises
    if fmt == "atom":
        assert_valid_atom(out)
        found = root.find(f"{ATOM}entry/{ATOM}title")
        assert found is not None and found.text == title
    parse_feed(out)


def test_a_control_character_in_another_language_title_is_a_feed_error() -> None:
    """Alternate links carry the other languages' titles: they are checked like the rest
    (this raised lxml's ValueError from inside feedgen)."""
    item = make_item(answer_id="bad0000000000002", language="es",
                     translations=[feeds.Translation("en", f"{BASE}/en/a.html", "a\x00b")])
    for render in (atom_rss.render_atom, atom_rss.render_rss, jsonfeed.render_json):
        with pytest.raises(FeedError, match=r"translations\.en\.title") as caught:
            render(make_doc([item]))
        assert (caught.value.answer_id, caught.value.language) == ("bad0000000000002", "es")

def _feedgen_whole(doc: feeds.Document, fmt: str) -> bytes:
    """A document as feedgen builds it with every entry added to the generator (the way
    documents were rendered before entries were built once and copied)."""
    fg = atom_rss._generator(doc, fmt)  # type: ignore[arg-type]
    for item in doc.items:
        rendition = item.rendition
        entry = fg.add_entry(order="append")
        entry.syndicate.item = item
        entry.syndicate.publisher = doc.publisher
        entry.id(item.id)
        entry.title(rendition.title)
        entry.updated(rendition.updated)
        entry.published(item.published)
        if fmt == "atom":
            entry.author(name=doc.publisher)
            if rendition.reviewed_by:
                entry.contributor(name=rendition.reviewed_by)
        entry.category(term=rendition.condition_slug, scheme=feeds.CONDITION_SCHEME,
                       label=rendition.condition)
        entry.summary(feeds.summary_html(rendition), type="html")
        entry.content(feeds.content_html(rendition), type="html")
    return bytes(fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True))


def _json_whole(doc: feeds.Document) -> bytes:
    """The JSON Feed document as one json.dumps of the whole object."""
    data = json.loads(jsonfeed.render_json(doc))
    items = data.pop("items")
    rebuilt = {**data, "items": [jsonfeed._json_item(item, doc.publisher) for item in doc.items]}
    assert items == json.loads(json.dumps(rebuilt["items"]))
    return (json.dumps(rebuilt, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def test_entries_built_once_give_the_bytes_of_a_whole_feedgen_document() -> None:
    """Entries shared by documents (copied from one build) and JSON items spliced from their
    own text give exactly the bytes of rendering each document whole."""
    stale = make_item(answer_id="bbbb000000000002", language="ar", direction="rtl",
                      source_reviewed=dt.date(2030, 1, 1), stale_notice="قديم",
                      review_due=None, reviewed_by=None)
    plain = make_item(answer_id="cccc000000000003", title="Plain <b>bold</b> & more",
                      translations=[feeds.Translation("ar", f"{BASE}/ar/x.html", "عنوان")])
    docs = [
        make_doc([ARABIC, stale]),
        make_doc([ARABIC], base=f"{BASE}/ar/lupus/feed", complete=False,
                 current=f"{BASE}/ar/feed", prev_archive=f"{BASE}/ar/archive/1"),
        make_doc([plain, ARABIC, stale], complete=False, prev_archive=f"{BASE}/en/archive/2"),
        make_doc([], updated=dt.datetime(2020, 1, 1, tzinfo=UTC)),
    ]
    for _ in range(2):  # the second round is served from the memos
        for doc in docs:
            assert atom_rss.render_atom(doc) == _feedgen_whole(doc, "atom")
            assert atom_rss.render_rss(doc) == _feedgen_whole(doc, "rss")
            assert jsonfeed.render_json(doc) == _json_whole(doc)
