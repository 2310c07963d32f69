"""Browser tests: Debian's Chromium, driven by Playwright, against pytest-django's live server.

Reusable by every role's journeys: ``browser`` (one Chromium per session), ``page`` (a fresh
context at phone size, in Chinese), ``login`` (log a user in through the password form), and ``capture``
(assert no sideways scrolling at 360 px, then screenshot at phone and desktop widths into
``artifacts/screenshots/``). ``axe_source`` and ``axe_violations`` run axe-core, from the npm
package pinned in package.json (``npm ci``), inside a page. Without Chromium or Playwright every
test here is skipped, and without axe-core the accessibility tests are, with the reason printed
in the summary.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would refuse ORM calls from
# the test body (factories) as if they came from async code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pass-Word-123"  # tests.factories.UserFactory's
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_FAILING_IMPACTS = ("serious", "critical")


def chromium_path() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("browser tests need Chromium: apt-get install chromium (.ci/run does this)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as error:  # any launch failure means: no usable browser here
            pytest.skip(f"Chromium at {executable} did not start: {error}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    # Playwright waits for each element or page to be ready; this only bounds a hang, so a busy
    # machine is slower, never failing.
    context.set_default_timeout(120_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def login(live_server):
    def log_in(page, username: str, password: str = PASSWORD) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        # The code log-in comes first; the password form is folded away below it.
        if page.locator("details.login-password").get_attribute("open") is None:
            page.locator("details.login-password summary").click()
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(password)
        page.locator("form[action='/accounts/login/'] button[type=submit]").click()
        page.wait_for_load_state()

    return log_in


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture
def capture():
    """Check a page fits 360 px, then save it at phone and desktop widths as ``<name>-phone.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: list[str] = []

    def shoot(page, name: str) -> None:
        page.set_viewport_size(PHONE)
        width = scroll_width(page)
        assert width <= PHONE["width"], f"{name} ({page.url}) scrolls sideways at 360 px: {width} px wide"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        seen.append(name)

    shoot.seen = seen
    return shoot


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        pytest.skip("the accessibility check needs axe-core: npm ci (package.json pins it; make pytest runs it)")
    return AXE_SCRIPT.read_text()


def axe_violations(page, source: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    violations = page.evaluate("async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}: "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in violations
        if violation["impact"] in AXE_FAILING_IMPACTS
    ]
