"""What the portal's Chromium tests share: the browser, where screenshots go, signing in, and
the ``page`` fixture (a plugin of tests/conftest.py, so every folder's browser tests have it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.support import engines
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER, Stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
BROWSER_MARKS = [pytest.mark.browser]
WATCH_PROGRESS = """bar => {
    window.progressSeen = [];
    new MutationObserver(() => window.progressSeen.push(Number(bar.value)))
        .observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
}"""
"""Script for ``locator.evaluate``: record each value a progress bar takes in
``window.progressSeen``."""


def chromium() -> str:
    """The Chromium the set-up found (tests/support/engines.py); fails the test when none."""
    try:
        return str(engines.chromium_path())
    except engines.Missing as exc:
        pytest.fail(str(exc), pytrace=False)


async def open_page(height: int = 900) -> AsyncIterator[Page]:
    """A fresh page in Debian's Chromium, closed with its browser afterwards."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    executable = chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": height})
        try:
            yield await context.new_page()
        finally:
            await context.close()
            await browser.close()


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh Chromium page as tall as the test module's ``PAGE_HEIGHT`` (default 900)."""
    async for opened in open_page(getattr(request.module, "PAGE_HEIGHT", 900)):
        yield opened


async def sign_in(page: Page, stack: Stack, username: str = ADMIN_USER,
                  password: str = ADMIN_PASSWORD) -> None:
    """Sign in through the login page (as the stack's admin unless told otherwise)."""
    await page.goto(stack.url("/login"))
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(stack.url("/"))
