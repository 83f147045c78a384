"""Pages for people and crawlers: canonical to self with hreflang for every language and
x-default, feed autodiscovery, schema.org MedicalWebPage JSON-LD, bidi-safe language lists,
the stylesheet in the tree, no hard-coded separators, autoescaped templates."""

from __future__ import annotations

import datetime as dt
import json

import lxml.html

from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.publication import publish, read_manifest

NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
BASE = "https://feeds.example.org"


def _page(settings: Settings, path: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((settings.out_dir / path).read_bytes())


def test_answer_pages_are_canonical_to_themselves_with_every_language_and_x_default(
    feed_settings: Settings,
) -> None:
    publish(feed_settings, localize_corpus(feed_settings), now=NOW)
    for lang in ("en", "ar"):
        page = _page(feed_settings, f"{lang}/lupus/what-causes-lupus.html")
        own = f"{BASE}/{lang}/lupus/what-causes-lupus.html"
        assert page.xpath("//link[@rel='canonical']/@href") == [own]
        alternates = {link.get("hreflang"): link.get("href")
                      for link in page.xpath("//link[@rel='alternate'][@hreflang]")}
        assert alternates == {"en": f"{BASE}/en/lupus/what-causes-lupus.html",
                              "ar": f"{BASE}/ar/lupus/what-causes-lupus.html",
                              "x-default": f"{BASE}/en/lupus/what-causes-lupus.html"}
        feeds = {(link.get("type"), link.get("href"))
                 for link in page.xpath("//link[@rel='alternate'][@type]")}
        assert {("application/atom+xml", f"{BASE}/{lang}/feed.atom"),
                ("application/rss+xml", f"{BASE}/{lang}/feed.rss"),
                ("application/feed+json", f"{BASE}/{lang}/feed.json"),
                ("application/atom+xml", f"{BASE}/{lang}/lupus/feed.atom")} <= feeds
        assert page.xpath("//meta[@name='viewport']")
        assert page.xpath("//link[@rel='stylesheet']/@href") == ["../../style.css"]


def test_json_ld_describes_a_medical_web_page_and_its_source(feed_settings: Settings) -> None:
    publish(feed_settings, localize_corpus(feed_settings), now=NOW)
    page = _page(feed_settings, "ar/lupus/what-causes-lupus.html")
    (script,) = page.xpath("//script[@type='application/ld+json']/text()")
    data = json.loads(script)
    assert data["@type"] == "MedicalWebPage" and data["@context"] == "https://schema.org"
    assert data["name"] == "ما أسباب الذئبة؟" and data["inLanguage"] == "ar"
    assert data["lastReviewed"] == "2026-03-02"
    assert data["reviewedBy"] == {"@type": "Person", "name": "Dr. Ana Núñez"}
    assert data["about"] == {"@type": "MedicalCondition", "name": "الذئبة"}
    assert data["publisher"] == {"@type": "Organization", "name": "DiseaseMaps"}
    assert data["url"] == f"{BASE}/ar/lupus/what-causes-lupus.html"
    assert data["translationOfWork"]["url"] == "https://diseasemaps.example/lupus/what-causes-lupus"
    assert data["datePublished"] == "2026-05-01T12:00:00Z"
    english = json.loads(_page(feed_settings, "en/lupus/what-causes-lupus.html").xpath(
        "//script[@type='application/ld+json']/text()")[0])
    assert "translationOfWork" not in english and english["inLanguage"] == "en"


def test_language_lists_are_bidi_safe_and_pages_carry_no_glued_separators(
    feed_settings: Settings,
) -> None:
    publish(feed_settings, localize_corpus(feed_settings), now=NOW)
    page = _page(feed_settings, "ar/lupus/what-causes-lupus.html")
    assert page.get("dir") == "rtl" and page.get("lang") == "ar"
    (link,) = page.xpath("//nav//a")
    assert link.get("lang") == "en" and link.get("dir") == "auto"
    assert link.xpath("bdi/text()") == ["What causes Lupus?"]
    assert page.xpath("//nav/h2/text()") == ["لغات أخرى"]
    assert " · " not in (feed_settings.out_dir / "ar/lupus/what-causes-lupus.html").read_text()
    assert page.xpath("//ul[@class='review']/li/text()")[-1] == "راجعه Dr. Ana Núñez"
    for path in ("index.html", "ar/index.html"):
        text = (feed_settings.out_dir / path).read_text("utf-8")
        assert "</a> · <a" not in text and "إجابات صحية: " not in text
        html = lxml.html.fromstring(text.encode())
        assert html.xpath("//ul[@class='formats']/li/a/text()")[:3] == ["Atom", "RSS", "JSON Feed"]
    assert read_manifest(feed_settings.out_dir)["style.css"].content_type == \
        "text/css; charset=utf-8"
    style = (feed_settings.out_dir / "style.css").read_text("utf-8")
    assert "Noto Naskh Arabic" in style and "Noto Sans CJK SC" in style and "@media print" in style
    assert "http" not in style.replace('a[href^="http"]', "")  # no external assets


def test_templates_escape_what_translators_write(feed_settings: Settings) -> None:
    from syndicate.publication.feeds import Translation
    from syndicate.publication.pages import FeedLink, PageContext, rendition_page
    from syndicate.testing import make_rendition

    rendition = make_rendition(
        language="fr", condition="<script>x</script>", title="Quoi <script>alert(1)</script>?",
        reviewed_by="</script><script>alert(2)</script>")
    context = PageContext(f"{BASE}/fr/lupus/a.html", f"{BASE}/en/lupus/a.html",
                          (FeedLink("fr", "F <i>", f"{BASE}/fr/feed"),), "P", NOW, "en",
                          "Autres <langues>")
    html = rendition_page(rendition, [Translation("en", f"{BASE}/en/lupus/a.html", "<x>")],
                          context).decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert "</script><script>alert(2)" not in html  # inside JSON-LD too
    assert "Autres &lt;langues&gt;" in html and "<bdi>&lt;x&gt;</bdi>" in html
