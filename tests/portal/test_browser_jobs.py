"""A real browser watches the Jobs pages update live: a job appears when submitted, moves from
queued to running, its progress bar climbs with each progress event, it ends succeeded with a
result link; the dashboard lists it; the Cancel button cancels a queued job; the detail page
follows one job.

The job's states are driven by the RPCs a solve worker makes (a fake worker on the real
backend), so the page sees the ``modelport.job.*`` events backend's outbox publishes."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.portal.browser import ARTIFACTS, BROWSER_MARKS, WATCH_PROGRESS, sign_in
from tests.portal.jobs_support import WorkerDriver
from tests.portal.uploads import call
from tests.support.stack import Stack

pytestmark = BROWSER_MARKS

async def _submit(stack: Stack) -> str:
    status, job = await call(stack, "POST", "/api/v1/jobs", json={"app": "transport"})
    assert status == 202, job
    return str(job["id"])


async def _open_jobs_page(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)
    await page.click("nav >> text=Jobs")
    await expect(page).to_have_url(stack.url("/jobs"))
    await expect(page.locator("[data-live-status]")).to_have_text("live")


async def test_jobs_page_follows_a_job_live(page: Page, jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, driver = jobs
    await _open_jobs_page(page, stack)
    await expect(page.locator("#job-list")).to_contain_text("No jobs yet")
    job_id = await _submit(stack)
    row = page.locator(f'tr[data-job="{job_id}"]')
    await expect(row.locator('[data-field="state"]')).to_have_text("queued")
    await expect(row.locator('[data-field="queue"]')).to_have_text("#1")

    await driver.start(job_id)
    await expect(row.locator('[data-field="state"]')).to_have_text("running")
    bar = row.locator('[data-field="progress"]')
    await bar.evaluate(WATCH_PROGRESS)
    for step in (1, 2, 3):
        await driver.progress(job_id, step / 4, f"iteration {step}: gap {10 - 3 * step}%")
        await expect(bar).to_have_js_property("value", 25 * step)
    await expect(row.locator('[data-field="message"]')).to_have_text("iteration 3: gap 1%")
    await expect(row.locator('[data-field="elapsed"]')).to_have_text(re.compile(r"^0:\d\d$"))
    await page.screenshot(path=ARTIFACTS / "jobs-running.png", full_page=True)

    await driver.succeed(job_id)
    await expect(row.locator('[data-field="state"]')).to_have_text("succeeded")
    await expect(bar).to_have_js_property("value", 100)
    await expect(row.locator('[data-field="result"]')).to_be_visible()
    await expect(row.locator("[data-cancel]")).to_be_hidden()
    seen = await page.evaluate("window.progressSeen")
    assert seen == sorted(seen) and seen[-1] == 100 and {25, 50, 75} <= set(seen)
    await page.screenshot(path=ARTIFACTS / "jobs-succeeded.png", full_page=True)


async def test_cancel_button_cancels_a_queued_job(
    page: Page, jobs: tuple[Stack, WorkerDriver]
) -> None:
    stack, driver = jobs
    job_id = await _submit(stack)
    await _open_jobs_page(page, stack)
    row = page.locator(f'tr[data-job="{job_id}"]')
    await page.click("nav >> text=Dashboard")
    await expect(page.locator("#jobs")).to_contain_text("transport · solve queued")
    await page.click(f'#jobs a[href="/jobs/{job_id}"]')
    await page.click("text=← Jobs")
    await expect(page.locator("[data-live-status]")).to_have_text("live")
    await row.locator("[data-cancel]").click()
    await expect(row.locator('[data-field="state"]')).to_have_text("cancelled")
    await expect(row.locator("[data-cancel]")).to_be_hidden()
    assert await driver.state(job_id) == "cancelled"
    await page.screenshot(path=ARTIFACTS / "jobs-cancelled.png", full_page=True)


async def test_detail_page_follows_one_job(page: Page, jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, driver = jobs
    job_id = await _submit(stack)
    await _open_jobs_page(page, stack)
    await page.click(f'a[href="/jobs/{job_id}"]')
    await expect(page.locator("[data-live-status]")).to_have_text("live")
    detail = page.locator("[data-detail]")
    await driver.start(job_id)
    await expect(detail.locator('[data-field="state"]')).to_have_text("running")
    await driver.progress(job_id, 0.4, "presolve done")
    await expect(detail.locator('[data-field="progress"]')).to_have_js_property("value", 40)
    await expect(page.locator("[data-log]")).to_contain_text("presolve done")
    await page.screenshot(path=ARTIFACTS / "job-detail-running.png", full_page=True)
    await driver.fail(job_id, "timeout", log=b"presolve done\ntime limit reached\n")
    await expect(detail.locator('[data-field="state"]')).to_have_text("failed")
    await expect(detail.locator('[data-field="reason"]')).to_have_text("timeout")
    await expect(detail.locator('[data-field="attempt"]')).to_have_text("attempt 1 of 3")
    await expect(page.locator("[data-log]")).to_have_text("presolve done\ntime limit reached\n")
    await page.screenshot(path=ARTIFACTS / "job-detail-failed.png", full_page=True)
