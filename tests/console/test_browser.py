"""The console in a real browser: Debian's Chromium driven by Playwright, checked by axe-core.

One ``syndicate run`` process (the real command, over SQLite, delivering every second to a
loopback receiver) and one browser serve every step: a partner signs in, creates a
subscription, sees its verification, sends a test event and watches its attempt (200)
appear, pauses it; an operator runs the sync job now and sees the run; a translator finds
the planted fuzzy Arabic message at its line. Every page visited is checked by axe-core
(zero violations), at 1024 and at 375 px wide (no sideways scrolling), and no Content-
Security-Policy violation is reported by the browser.

Skipped where Chromium, Playwright's driver or axe-core is missing, except under
``SYNDICATE_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs them), where that fails.
With ``SYNDICATE_CONSOLE_SCREENSHOTS=1`` the screenshots of docs/console.md are rewritten.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syndicate import store
from syndicate.testing.receiver import Receiver, Reply
from tests.console.conftest import FUZZY_TRANSLATION, UPDATING, plant_fuzzy
from tests.support import (
    ROOT,
    Proc,
    count,
    processes,
    service_env,
    wait_until,
)

CHROMIUM = next((p for p in (os.environ.get("SYNDICATE_CHROMIUM", ""), "/usr/bin/chromium",
                             shutil.which("chromium") or "") if p and Path(p).exists()), None)
NPM_DIR = Path(os.environ.get("SYNDICATE_NPM_DIR",
                              Path.home() / ".cache" / "syndicate" / "npm"))
AXE = next((p for p in (os.environ.get("SYNDICATE_AXE_JS", ""),
                        str(NPM_DIR / "node_modules" / "axe-core" / "axe.min.js"))
            if p and Path(p).exists()), None)
SHOTS = ROOT / "docs" / "console"
pytestmark = pytest.mark.slow


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if CHROMIUM is None:
        return "Chromium is not installed (apt-get install chromium)"
    if AXE is None:
        return (f"axe-core is not installed (npm install --prefix {NPM_DIR} axe-core; "
                ".ci/run does)")
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    problem = _missing()
    if problem:
        if os.environ.get("SYNDICATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{problem} (SYNDICATE_REQUIRE_BROWSER=1)")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        found = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                       args=["--no-sandbox", "--disable-gpu"])
        yield found
        found.close()


class Tour:
    """A browser page and the checks every console page gets."""

    def __init__(self, page: Any, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.axe = Path(AXE or "").read_text(encoding="utf-8")
        self.csp_reports: list[str] = []
        page.on("console", lambda msg: self.csp_reports.append(msg.text)
                if "Content Security Policy" in msg.text else None)

    def check(self, shot: str | None = None) -> None:
        """axe-core finds nothing at 1024 px and at 375 px; nothing scrolls sideways at
        375 px; the browser reported no CSP violation."""
        page = self.page
        for width in (1024, 375):
            page.set_viewport_size({"width": width, "height": 800})
            if not page.evaluate("() => typeof window.axe === 'object'"):
                page.evaluate(self.axe)  # DevTools evaluation: not blocked by the page's CSP
            result = page.evaluate("async () => await axe.run(document, {resultTypes: "
                                   "['violations']})")
            violations = [(v["id"], v["help"], [n["html"][:120] for n in v["nodes"][:3]])
                          for v in result["violations"]]
            assert violations == [], f"{page.url} at {width}px: {json.dumps(violations, indent=1)}"
            if width == 375:
                overflow = page.evaluate(
                    "() => document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at 375px"
            elif shot:
                page.screenshot(path=str(self.shots / f"{shot}.png"))
        page.set_viewport_size({"width": 1024, "height": 800})
        assert self.csp_reports == [], self.csp_reports

    def sign_in(self, base: str, credential: str) -> None:
        page = self.page
        page.goto(f"{base}/console/")
        assert page.url.endswith("/console/sign-in")
        self.check("sign-in")
        page.get_by_label("Token or credential").fill(credential)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()

    def settle(self, timeout: float = 60.0) -> None:
        """Reload, as a person would, until the page's figures are up to date (the service
        reads the catalogs in the background at start)."""
        deadline = time.monotonic() + timeout
        while UPDATING in self.page.content():
            assert time.monotonic() < deadline, f"{self.page.url} still updating"
            time.sleep(0.1)
            self.page.reload()

    def submit(self, name: str) -> None:
        """Click a form's button and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=name).click()

    def sign_out(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign out").click()
        assert self.page.url.endswith("/console/sign-in?notice=signed-out")


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "syndicate", *args], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# Longer than 60 lines: one tour of the three views over one service and one browser.
def test_partner_operator_and_translator_in_a_browser(browser: Any, workspace: Path,
                                                      tmp_path: Path) -> None:
    from playwright.sync_api import expect

    po, line, _ = plant_fuzzy(workspace / "locales")
    env = service_env(workspace, f"sqlite:///{workspace / 'state' / 'syndicate.db'}",
                      deliver_interval=1, sync_interval=3600, log_format="text")
    (workspace / "state").mkdir(exist_ok=True)
    _cli(env, "db", "upgrade")
    token = _cli(env, "tokens", "issue", "partner-a")
    operator = _cli(env, "console", "credential", "create", "olga", "--role", "operator")
    translator = _cli(env, "console", "credential", "create", "tom", "--role", "translator")
    shots = SHOTS if os.environ.get("SYNDICATE_CONSOLE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(exist_ok=True)
    with Receiver() as receiver, processes() as started:
        run = Proc(["run"], env, tmp_path, "run")
        started.append(run)
        base = run.url()
        # the first request is the verification (its challenge echoed), then a short answer
        receiver.program("/hook", Reply(200), default=Reply(200, body=b"received by partner"))
        engine = sa.create_engine(env["SYNDICATE_DATABASE_URL"])
        wait_until(lambda: count(engine, store.renditions, store.renditions.c.language == "de")
                   > 0, 60, "the first sync")
        engine.dispose()
        context = browser.new_context(locale="en-US")
        tour = Tour(context.new_page(), shots)
        page = tour.page
        expect.set_options(timeout=20_000)

        # -- a partner --------------------------------------------------------------------
        tour.sign_in(base, token)
        assert page.url.endswith("/console/partner/"), page.locator("main").inner_text()
        tour.check()
        page.get_by_label("Endpoint URL").fill(receiver.url("/hook"))
        page.get_by_label("de", exact=True).check()
        tour.submit("Create subscription")
        secret = page.locator("#secret").inner_text()
        assert secret.startswith("whsec_")
        tour.check()
        page.get_by_role("link", name="Continue to the subscription").click()
        subscription_url = page.url
        for _ in range(40):  # the endpoint echoes its challenge on the next deliver tick
            if "active" in page.locator(".facts").inner_text():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(page.locator(".facts")).to_contain_text("active")
        tour.submit("Send a test event")
        expect(page.locator("[role=status]")).to_contain_text("Test event queued")
        # The attempts list refreshes itself (the page's script): the attempt appears.
        row = page.locator("#attempts tr", has_text="endpoint.test")
        expect(row).to_contain_text("200")
        expect(row).to_contain_text("received by partner")  # the answer's first bytes
        assert page.url.startswith(subscription_url)
        assert any(r.json().get("type") == "endpoint.test" for r in receiver.requests("/hook"))
        assert secret not in page.content()
        tour.check("partner-subscription")
        tour.submit("Pause")
        expect(page.locator(".facts")).to_contain_text("paused")
        expect(page.get_by_role("button", name="Resume")).to_be_visible()
        page.get_by_role("link", name="Events and feeds").click()
        expect(page.locator("h1")).to_have_text("Events and feeds")
        tour.check("partner-events")
        tour.sign_out()

        # -- an operator ------------------------------------------------------------------
        tour.sign_in(base, operator)
        assert page.url.endswith("/console/operator/")
        tour.check("operator-home")
        tour.submit("Run now: sync")
        expect(page.locator("[role=status]")).to_contain_text("Run started")
        expect(page.locator("#runs tr", has_text="manual")).to_contain_text("ok")
        tour.check()
        tour.submit("Pause")
        expect(page.locator(".facts")).to_contain_text("paused")
        tour.submit("Resume")
        expect(page.locator(".facts")).to_contain_text("scheduled")
        for name, heading in (("Subscribers", "Subscribers' health"),
                              ("Content problems", "Content problems"),
                              ("Translations", "Translations")):
            page.get_by_role("link", name=name, exact=True).click()
            expect(page.locator("h1")).to_have_text(heading)
            tour.check()
        tour.sign_out()

        # -- a translator -----------------------------------------------------------------
        tour.sign_in(base, translator)
        assert page.url.endswith("/console/translate/")
        tour.settle()
        tour.check("translator-home")
        page.get_by_role("link", name="ar", exact=True).click()
        fuzzy = page.locator("tr", has_text=f"{po.relative_to(workspace).as_posix()}:{line}")
        expect(fuzzy).to_contain_text("fuzzy")
        cell = fuzzy.locator("td[lang=ar]")
        expect(cell).to_have_attribute("dir", "rtl")
        expect(cell).to_have_text(FUZZY_TRANSLATION)
        tour.check("translator-language")
        assert page.get_by_role("link", name="Jobs and charts").count() == 0
        context.close()
        assert run.terminate() == 0
