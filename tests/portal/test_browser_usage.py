"""Chromium on the admin page ``/admin/usage``: usage of a job run through the platform, the
CSV download, setting a user's quota through the form and reading it back; a user who is not
an admin gets 404, as on every admin page."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Page, expect

from tests.portal.browser import ARTIFACTS, BROWSER_MARKS, sign_in
from tests.portal.jobs_support import WorkerDriver
from tests.portal.uploads import call
from tests.support.stack import Stack

pytestmark = BROWSER_MARKS
PAGE_HEIGHT = 1000  # the page fixture's viewport


async def test_admin_reads_usage_and_sets_a_quota(
    jobs: tuple[Stack, WorkerDriver], page: Page
) -> None:
    stack, driver = jobs
    alice = await stack.create_user("alice", "alice-password-1")
    status, job = await call(stack, "POST", "/api/v1/jobs", alice, json={"app": "transport"})
    assert status == 202
    await driver.start(job["id"])
    await driver.succeed(job["id"])

    await sign_in(page, stack)
    await page.click("nav >> text=Admin")
    await page.click("nav.admin-nav >> text=Usage")
    await expect(page.locator("h1")).to_have_text("Quotas and usage")
    row = page.locator("#usage-table tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(0)).to_have_text("alice")
    await expect(row.locator("td").nth(1)).to_have_text("transport")
    await expect(row.locator("td").nth(6)).to_have_text("1")
    async with page.expect_download() as download:
        await page.click("#usage-csv")
    saved = await (await download.value).path()
    lines = (await asyncio.to_thread(Path(saved).read_text)).splitlines()
    assert lines[0] == "user,app,session_hours,job_cpu_seconds,sessions,jobs"
    assert lines[1].startswith("alice,transport,")

    await page.fill("#quota-name", "alice")
    await page.fill("#quota-queued_jobs", "7")
    await page.fill("#quota-sessions", "1")
    await page.click("#set-quotas button[type=submit]")
    await expect(page.locator(".notice")).to_contain_text("Quotas of user alice saved")
    lines_table = page.locator("#user-quotas tbody tr")
    await expect(lines_table).to_have_count(5)
    await expect(lines_table.nth(0)).to_contain_text("queued jobs")
    await expect(lines_table.nth(0)).to_contain_text("7")
    await expect(lines_table.nth(0)).to_contain_text("user")
    await expect(page.locator("#quota-table")).to_contain_text("alice")
    await page.screenshot(path=ARTIFACTS / "admin-usage.png", full_page=True)
    status, body = await call(stack, "GET", "/api/v1/admin/quotas/users/alice")
    assert status == 200 and body["overrides"]["queued_jobs"] == 7
    assert body["overrides"]["sessions"] == 1 and body["overrides"]["storage_bytes"] is None


async def test_a_user_who_is_no_admin_is_refused(
    jobs: tuple[Stack, WorkerDriver], page: Page
) -> None:
    stack, _ = jobs
    await stack.create_user("bob", "bob-password-12")
    await page.goto(stack.url("/login"))
    await page.fill("#username", "bob")
    await page.fill("#password", "bob-password-12")
    await page.click("button[type=submit]")
    await expect(page).to_have_url(stack.url("/"))
    await expect(page.locator("nav")).not_to_contain_text("Admin")
    response = await page.goto(stack.url("/admin/usage"))
    assert response is not None and response.status == 404
