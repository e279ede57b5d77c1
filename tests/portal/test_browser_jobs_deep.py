"""The Jobs page with 10,000 jobs queued: it shows one page of 100 with their queue positions,
pages through the rest, takes in a new job on the first page only, and refuses a bad page.

The queue is written straight into the stack's database (as if many users had submitted);
positions are checked against sorting the whole queue. Nothing here is timed: what the page
loads and does is asserted (the timings are bench/api.py's)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, Response, expect

from common.settings import S3Settings
from tests.portal.browser import ARTIFACTS, BROWSER_MARKS, sign_in
from tests.portal.uploads import call
from tests.support.deep_queue import SeededQueue, full_order_positions, seed_queue
from tests.support.stack import ADMIN_USER, Stack, running_stack

pytestmark = BROWSER_MARKS
QUEUED = 10_000
ROWS = 'tbody tr[data-job]'
STATE_URL = re.compile(r"/jobs/([0-9a-f-]+)/state$")
LOADED_S = 30_000  # ms: the first load refreshes 100 rows; the machine may be busy


@pytest.fixture
async def deep(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> AsyncIterator[tuple[Stack, SeededQueue]]:
    # the admin already holds part of the deep queue: room for the jobs the test submits
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path,
                             backend={"max_queued_per_user": 100_000}) as stack:
        conn = await asyncpg.connect(pg_dsn)
        try:
            admin = await conn.fetchval("SELECT id FROM users WHERE username = $1", ADMIN_USER)
            others = [uuid.uuid4() for _ in range(49)]
            await conn.executemany(
                "INSERT INTO users (id, username, password_hash) VALUES ($1, $2, 'x')",
                [(u, f"user-{u.hex[:8]}") for u in others])
            seeded = await seed_queue(conn, jobs=QUEUED, users=50, apps=3,
                                      priorities=(0, 0, 1, -1), user_ids=[admin, *others])
        finally:
            await conn.close()
        yield stack, seeded


async def _newest(pg_dsn: str, offset: int) -> tuple[str, int]:
    """The id of the (offset+1)-th newest job and its position from sorting the whole queue."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        job_id = await conn.fetchval(
            "SELECT id FROM jobs ORDER BY created_at DESC, id OFFSET $1 LIMIT 1", offset)
        return str(job_id), (await full_order_positions(conn))[job_id]
    finally:
        await conn.close()


async def _submit(stack: Stack, app: str) -> dict[str, object]:
    status, job = await call(stack, "POST", "/api/v1/jobs", json={"app": app})
    assert status == 202, job
    return dict(job)


async def test_jobs_page_pages_a_deep_queue(
    page: Page, deep: tuple[Stack, SeededQueue], pg_dsn: str
) -> None:
    stack, _ = deep
    await sign_in(page, stack)
    lookups = StateLookups(page)
    async with page.expect_response(_page_refresh, timeout=LOADED_S):
        await page.goto(stack.url("/jobs"))  # the script refreshes the page once it is live
    await expect(page.locator("[data-live-status]")).to_have_text("live")
    assert lookups.count == 0  # one request for all rows, not one per row
    await expect(page.locator(ROWS)).to_have_count(100)
    await expect(page.locator("[data-page-info]")).to_have_text("Jobs 1–100 of 10,000")
    newest, position = await _newest(pg_dsn, 0)
    first = page.locator(ROWS).first
    await expect(first).to_have_attribute("data-job", newest)
    await expect(first.locator('[data-field="queue"]')).to_have_text(f"#{position}")
    await expect(page.locator("a[rel=prev]")).to_have_count(0)
    await page.screenshot(path=ARTIFACTS / "jobs-deep-queue.png")

    submitted = await _submit(stack, await _app_of(stack, newest))
    row = page.locator(f'tr[data-job="{submitted["id"]}"]')
    await expect(row.locator('[data-field="state"]')).to_have_text("queued", timeout=LOADED_S)
    await expect(row.locator('[data-field="queue"]')).to_have_text(
        f"#{submitted['queue_position']}")
    await expect(page.locator(ROWS).first).to_have_attribute("data-job", str(submitted["id"]))


async def test_older_pages_and_the_last_one(
    page: Page, deep: tuple[Stack, SeededQueue], pg_dsn: str
) -> None:
    stack, _ = deep
    await sign_in(page, stack)
    await page.goto(stack.url("/jobs"))
    await page.click("a[rel=next]")
    await expect(page).to_have_url(stack.url("/jobs?page=2"))
    await expect(page.locator("[data-live-status]")).to_have_text("live", timeout=LOADED_S)
    await expect(page.locator("[data-page-info]")).to_have_text("Jobs 101–200 of 10,000")
    await expect(page.locator(ROWS)).to_have_count(100)
    hundred_first, position = await _newest(pg_dsn, 100)
    first = page.locator(ROWS).first
    await expect(first).to_have_attribute("data-job", hundred_first)
    await expect(first.locator('[data-field="queue"]')).to_have_text(f"#{position}")
    await expect(page.locator("a[rel=prev]")).to_have_attribute("href", "/jobs?page=1")

    # a job submitted now belongs on page 1: page 2 looks it up but does not take it in
    app = await _app_of(stack, hundred_first)
    looked_up = StateLookups(page)
    submitted = await _submit(stack, app)
    await looked_up.wait_for(str(submitted["id"]))
    await expect(page.locator(ROWS)).to_have_count(100)
    await expect(page.locator(f'tr[data-job="{submitted["id"]}"]')).to_have_count(0)

    await page.goto(stack.url("/jobs?page=101"))
    await expect(page.locator("[data-page-info]")).to_have_text("Jobs 10,001–10,001 of 10,001")
    await expect(page.locator(ROWS)).to_have_count(1)
    await expect(page.locator("a[rel=next]")).to_have_count(0)


@pytest.mark.parametrize("bad", ["0", "-1", "two", "100001"])
async def test_a_bad_page_number_is_refused(
    page: Page, deep: tuple[Stack, SeededQueue], bad: str
) -> None:
    stack, _ = deep
    await sign_in(page, stack)
    response = await page.goto(stack.url(f"/jobs?page={bad}"))
    assert response is not None and response.status == 400
    await expect(page.locator("body")).to_contain_text(
        "Page must be a whole number from 1 to 100000")


class StateLookups:
    """The jobs whose ``/jobs/{id}/state`` the page has fetched, from now on."""

    def __init__(self, page: Page):
        self._seen: set[str] = set()
        self._changed = asyncio.Event()
        page.on("response", self._on_response)

    @property
    def count(self) -> int:
        return len(self._seen)

    def _on_response(self, response: Response) -> None:
        found = STATE_URL.search(response.url)
        if found:
            self._seen.add(found[1])
            self._changed.set()

    async def wait_for(self, job_id: str, timeout_s: float = 30.0) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while job_id not in self._seen:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"the page did not look up {job_id} in {timeout_s:g} s; "
                                 f"it looked up {len(self._seen)} others") from None


def _page_refresh(response: Response) -> bool:
    """The script's JSON refresh of a list page."""
    return (response.request.headers.get("accept") == "application/json"
            and "/jobs" in response.url and response.status == 200)


async def _app_of(stack: Stack, job_id: str) -> str:
    status, job = await call(stack, "GET", f"/api/v1/jobs/{job_id}")
    assert status == 200, job
    return str(job["app"])
