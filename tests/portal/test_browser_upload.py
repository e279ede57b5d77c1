"""A real browser publishes the transport app through the Apps page: the progress bar reaches
100 %, the app appears with its version, and a refused upload shows the server's message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.portal.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.portal.uploads import upload
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER, Stack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"browser tests need Chromium at {CHROMIUM}"),
]

WATCH_PROGRESS = """bar => {
    window.progressSeen = [];
    new MutationObserver(() => window.progressSeen.push(Number(bar.value)))
        .observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
}"""


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            yield await context.new_page()
        finally:
            await context.close()
            await browser.close()


async def _sign_in(page: Page, stack: Stack) -> None:
    await page.goto(stack.url("/login"))
    await page.fill("#username", ADMIN_USER)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(stack.url("/"))


async def test_publish_an_app_through_the_apps_page(page: Page, stack: Stack) -> None:
    status, _ = await upload(stack, "/api/v1/runtimes", stack.pack_runtime("1.2.0").read_bytes())
    assert status == 201
    package = stack.pack_app("transport")
    await _sign_in(page, stack)
    await page.click("nav >> text=Apps")
    await expect(page).to_have_url(stack.url("/apps"))
    await expect(page.locator("#app-list")).to_contain_text("No apps yet")

    bar = page.locator("#app-progress")
    await bar.evaluate(WATCH_PROGRESS)
    await page.set_input_files("#app-file", str(package))
    await page.click(".upload button[type=submit]")
    await expect(page.locator(".upload-status")).to_have_text("Published transport 1.0.0")
    await expect(bar).to_have_js_property("value", 100)
    await expect(page.locator(".upload-percent")).to_have_text("100%")
    seen = await page.evaluate("window.progressSeen")
    assert seen[-1] == 100 and seen == sorted(seen)

    card = page.locator('#app-list [data-app="transport"]')
    await expect(card).to_contain_text("Transport: ship cases from plants to markets")
    await expect(card.locator('tr[data-version="1.0.0"]')).to_contain_text("Active")
    await page.screenshot(path=ARTIFACTS / "apps-published.png", full_page=True)

    await page.set_input_files("#app-file", str(package))
    await page.click(".upload button[type=submit]")
    status_line = page.locator(".upload-status.error")
    await expect(status_line).to_have_text("Transport 1.0.0 is published already")
    await page.screenshot(path=ARTIFACTS / "apps-upload-refused.png", full_page=True)

    await page.reload()
    await expect(page.locator('#app-list [data-app="transport"]')).to_contain_text("1.0.0")
