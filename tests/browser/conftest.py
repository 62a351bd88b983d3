"""A real browser for the page tests: Playwright for Python driving Debian's `chromium`.

Locally the tests skip with a clear reason when Playwright or the browser is missing; in
CI (`AUTHFLOW_REQUIRE_EXTERNAL=1`) they fail instead (`tests.external.need`). Playwright's
own browser download is never used: `.ci/run` installs Debian's package.

Screenshots go to `artifacts/screenshots/` at the project root (or `AUTHFLOW_SCREENSHOTS`);
`screenshot(page, name)` prints where each one went, so CI logs name the files to keep.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.external import need

CHROMIUM = os.environ.get("AUTHFLOW_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home on a closed network.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
SCREENSHOTS = Path(os.environ.get("AUTHFLOW_SCREENSHOTS",
                                  Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))


def _playwright_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


# One browser per package, not per session: Playwright's sync API keeps an event loop running
# in the main thread while it is open, and later tests that call asyncio.run must not see it.
@pytest.fixture(scope="package")
def browser():
    need(_playwright_available(), "Playwright for Python is not installed (pip install playwright)")
    need(Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None,
         f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile (cookies, storage) per test."""
    ctx = browser.new_context(ignore_https_errors=True)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
