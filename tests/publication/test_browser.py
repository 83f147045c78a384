"""The pages in a real browser: Chromium (driven by Playwright) loads the index, an answer in
English and in Arabic, a stale translation and a withdrawn answer's page from the tree served
on 127.0.0.1, runs axe-core on each (zero violations), and checks the Arabic layout runs right
to left.

Needs Debian's ``chromium`` and axe-core from the npm registry, installed once into a cache
folder (``SYNDICATE_NPM_DIR``, default ``~/.cache/syndicate/npm``; ``.ci/run`` installs both):
no network is needed once it is there. Under CI (``SYNDICATE_REQUIRE_BROWSER=1``) a missing
browser or axe-core fails the test; elsewhere it is skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syndicate.answers.pipeline import localize_corpus
from syndicate.config import Settings
from syndicate.http.static import PublicationTree, StaticApp
from syndicate.publication import publish
from syndicate.testing import serve_asgi

CHROMIUM = os.environ.get("SYNDICATE_CHROMIUM", "/usr/bin/chromium")
AXE_DIR = Path(os.environ.get("SYNDICATE_NPM_DIR",
                              Path.home() / ".cache" / "syndicate" / "npm"))
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
REQUIRED = os.environ.get("SYNDICATE_REQUIRE_BROWSER") == "1"
NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)


def _missing() -> str | None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"no Chromium at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (test extra)"
    if not AXE.is_file():
        return f"axe-core is not installed at {AXE} (npm install --prefix {AXE_DIR} axe-core)"
    return None


@pytest.fixture
def browser_page() -> Iterator[Any]:
    missing = _missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"SYNDICATE_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def _site(settings: Settings) -> None:
    """The fixture tree, then: the English "what causes" answer re-reviewed with new text
    (its Arabic translation lags: stale) and "is it contagious" withdrawn (410)."""
    publish(settings, localize_corpus(settings), now=NOW)
    content = settings.content_dir / "lupus"
    source = content / "what-causes-lupus.md"
    text = source.read_text("utf-8").replace("reviewed: 2026-03-02", "reviewed: 2026-04-20")
    source.write_text(text + "\nA paragraph added on re-review (test fixture).\n", "utf-8")
    withdrawn = content / "is-lupus-contagious.md"
    withdrawn.write_text(re.sub(r"status: \w+", "status: withdrawn",
                                withdrawn.read_text("utf-8")), "utf-8")
    publish(settings, localize_corpus(settings), now=NOW + dt.timedelta(days=1))


def _violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run()).violations")
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in found]


def test_pages_have_no_accessibility_violations_and_arabic_runs_right_to_left(
    feed_settings: Settings, browser_page: Any,
) -> None:
    _site(feed_settings)
    stale = (feed_settings.out_dir / "ar/lupus/what-causes-lupus.html").read_text("utf-8")
    assert "2026-04-20" in stale or "٢٠٢٦" in stale or "أبريل" in stale  # the stale notice
    app = StaticApp(PublicationTree(feed_settings.out_dir, feed_settings.base_url))
    pages = {"index": ("/", 200), "english": ("/en/asthma/can-asthma-go-away.html", 200),
             "arabic": ("/ar/asthma/can-asthma-go-away.html", 200),
             "stale": ("/ar/lupus/what-causes-lupus.html", 200),
             "withdrawn": ("/ar/lupus/is-lupus-contagious.html", 410)}
    page = browser_page
    with serve_asgi(app) as base:
        for name, (path, status) in pages.items():
            response = page.goto(base + path)
            assert response is not None and response.status == status, name
            assert page.evaluate("getComputedStyle(document.body).fontFamily") != \
                '"Times New Roman"', f"{name}: the stylesheet did not load"
            assert _violations(page) == [], name
            if name in {"arabic", "stale", "withdrawn"}:
                layout = page.evaluate("""() => {
                    const main = document.querySelector('main').getBoundingClientRect();
                    const h1 = document.querySelector('h1');
                    const range = document.createRange();
                    range.selectNodeContents(h1);
                    const text = range.getBoundingClientRect();
                    return {dir: getComputedStyle(h1).direction,
                            gapRight: main.right - text.right, gapLeft: text.left - main.left};
                }""")
                assert layout["dir"] == "rtl", name
                assert layout["gapRight"] < 2 < layout["gapLeft"], (name, layout)
        page.goto(base + "/ar/asthma/can-asthma-go-away.html")
        other = page.locator("nav a").first
        assert other.get_attribute("lang") == "en" and other.get_attribute("dir") == "auto"
        assert page.evaluate("getComputedStyle(document.querySelector('nav bdi'))"
                             ".unicodeBidi") == "isolate"
