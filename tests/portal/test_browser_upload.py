"""A real browser publishes the transport app through the Apps page: the progress bar reaches
100 %, the app appears with its version, and a refused upload shows the server's message."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Page, expect

from tests.portal.browser import ARTIFACTS, BROWSER_MARKS, WATCH_PROGRESS, sign_in
from tests.portal.uploads import case_bytes, unchanged, upload
from tests.support.stack import Stack

pytestmark = BROWSER_MARKS

async def test_publish_an_app_through_the_apps_page(page: Page, stack: Stack) -> None:
    status, _ = await upload(stack, "/api/v1/runtimes", stack.pack_runtime("1.2.0").read_bytes())
    assert status == 201
    package = stack.pack_app("transport")
    await sign_in(page, stack)
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

    async with unchanged(stack):
        await page.set_input_files("#app-file", str(package))
        await page.click(".upload button[type=submit]")
        status_line = page.locator(".upload-status.error")
        await expect(status_line).to_have_text("Transport 1.0.0 is published already")
    await page.screenshot(path=ARTIFACTS / "apps-upload-refused.png", full_page=True)

    await page.reload()
    await expect(page.locator('#app-list [data-app="transport"]')).to_contain_text("1.0.0")


async def test_runtimes_and_cases_pages(page: Page, stack: Stack, tmp_path: Path) -> None:
    await sign_in(page, stack)
    await page.click("nav >> text=Runtimes")
    await page.set_input_files("#runtime-file", str(stack.pack_runtime("1.2.0")))
    await page.click(".upload button[type=submit]")
    await expect(page.locator(".upload-status")).to_have_text("Registered runtime 1.2.0")
    await expect(page.locator('#runtime-list tr[data-version="1.2.0"]')).to_contain_text("highs")
    await page.screenshot(path=ARTIFACTS / "runtimes.png", full_page=True)

    status, _ = await upload(stack, "/api/v1/apps", stack.pack_app("transport").read_bytes())
    assert status == 201
    case_file = tmp_path / "base scenario.mpcase"
    case_file.write_bytes(case_bytes())
    await page.click("nav >> text=Cases")
    await page.set_input_files("#case-file", str(case_file))
    await page.click(".upload button[type=submit]")
    await expect(page.locator(".upload-status")).to_have_text("Stored case base scenario")
    row = page.locator("#case-list tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("transport")

    not_a_case = tmp_path / "notes.mpcase"
    not_a_case.write_text("these are notes, not a case")
    async with unchanged(stack):
        await page.set_input_files("#case-file", str(not_a_case))
        await page.click(".upload button[type=submit]")
        await expect(page.locator(".upload-status.error")).to_contain_text("Not a Modelport case")
    await page.screenshot(path=ARTIFACTS / "cases.png", full_page=True)

    async with page.expect_download() as info:
        await row.locator("text=Download").click()
    download = await info.value
    saved = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert saved == await asyncio.to_thread(case_file.read_bytes)
