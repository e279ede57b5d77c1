"""A real browser on the admin pages (admins only; 404 for anyone else): create a user and a
group, add and remove a member, stop someone's session, cancel someone's job, drain and
return a Docker host, and find each of these in the audit log by its filters, page by page.
Screenshots of every page go to test-artifacts/portal/admin-*.png."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Page, expect

from backend_svc import hosts
from common.contracts.admin import HostLoad
from tests.portal.browser import ARTIFACTS, BROWSER_MARKS, sign_in
from tests.portal.jobs_support import WorkerDriver
from tests.portal.uploads import call
from tests.support import db_state
from tests.support.stack import Stack

pytestmark = BROWSER_MARKS
ADMIN_PAGES = ["/admin", "/admin/users", "/admin/groups", "/admin/apps", "/admin/sessions",
               "/admin/jobs", "/admin/hosts", "/admin/audit"]


async def _report_hosts(stack: Stack) -> None:
    assert stack.backend.pool is not None
    async with stack.backend.pool.acquire() as conn:
        await hosts.report(conn, "solve-a", [
            HostLoad(name="host-a", zone="a", healthy=True, slots=4, used_slots=3,
                     memory_mb=8192, used_memory_mb=3072),
            HostLoad(name="host-b", zone="b", healthy=True, slots=4, used_slots=1,
                     memory_mb=8192, used_memory_mb=1024)])


async def _shot(page: Page, name: str) -> None:
    await page.screenshot(path=ARTIFACTS / f"admin-{name}.png", full_page=True)


async def test_admin_pages_act_and_the_audit_shows_it(
    jobs: tuple[Stack, WorkerDriver], page: Page
) -> None:
    stack, _ = jobs
    carol = await stack.create_user("carol", "carol-password-1")
    status, session = await call(stack, "POST", "/api/v1/sessions", carol,
                                 json={"app": "transport"})
    assert status == 201, session
    job_ids = []
    for _ in range(2):  # the fake worker has one slot: the second job stays queued
        status, job = await call(stack, "POST", "/api/v1/jobs", carol,
                                 json={"app": "transport", "procedure": "solve"})
        assert status == 202, job
        job_ids.append(job["id"])
    await _report_hosts(stack)
    await sign_in(page, stack)

    await page.click("nav.nav >> text=Admin")
    await expect(page).to_have_url(stack.url("/admin/users"))
    await expect(page.locator("#user-list")).to_contain_text("carol")
    await page.fill("#new-username", "dave")
    await page.fill("#new-display", "Dave D.")
    await page.fill("#new-password", "dave-password-1")
    await page.click("#create-user button[type=submit]")
    await expect(page.locator(".notice")).to_contain_text("Created user dave")
    await expect(page.locator("tr[data-user=dave]")).to_contain_text("Dave D.")
    dave = page.locator("tr[data-user=dave]")
    await dave.locator("select[name=role]").select_option("publisher")
    await dave.locator(".set-role button").click()
    await expect(page.locator(".notice")).to_contain_text("Role of dave: publisher")
    await page.locator("tr[data-user=dave]").get_by_role("button", name="Disable").click()
    await expect(page.locator(".notice")).to_contain_text("Account dave disabled")
    await expect(page.locator("tr[data-user=dave]")).to_contain_text("disabled")
    status, _ = await call(stack, "POST", "/api/v1/auth/login", anonymous=True,
                           json={"username": "dave", "password": "dave-password-1"})
    assert status == 401  # a disabled account cannot sign in
    await page.locator("tr[data-user=dave]").get_by_role("button", name="Enable").click()
    await expect(page.locator(".notice")).to_contain_text("Account dave enabled")
    await expect(page.locator("tr[data-user=dave] select[name=role]")).to_have_value("publisher")
    await _shot(page, "users")

    await page.click(".admin-nav >> text=Groups")
    await page.fill("#new-group", "planners")
    await page.click("#create-group button[type=submit]")
    await expect(page.locator(".notice")).to_contain_text("Created group planners")
    row = page.locator("tr[data-group=planners]")
    for name in ("dave", "carol"):
        await row.locator("input[name=username]").fill(name)
        await row.locator(".add-member button").click()
        await expect(page.locator(".notice")).to_contain_text(f"Added {name} to planners")
    await row.locator("input[name=username]").fill("nobody-here")
    await row.locator(".add-member button").click()
    await expect(page.locator(".notice")).to_contain_text("Refused:")
    await row.locator("[data-remove=dave]").click()
    await expect(page.locator(".notice")).to_contain_text("Removed dave from planners")
    await expect(row.locator(".member")).to_have_text(["carol ×"])
    await _shot(page, "groups")

    await page.click(".admin-nav >> text=Sessions")
    await expect(page.locator(f"tr[data-session='{session['id']}']")).to_contain_text("carol")
    await _shot(page, "sessions")
    await page.click(f"[data-stop='{session['id']}']")
    await expect(page.locator(".notice")).to_contain_text("Stopping the session")
    status, stopped = await call(stack, "GET", f"/api/v1/sessions/{session['id']}", carol)
    assert (status, stopped["state"], stopped["reason"]) == (200, "stopped", "admin")

    await page.click(".admin-nav >> text=Jobs")
    queued = job_ids[1]
    await expect(page.locator(f"tr[data-job='{queued}']")).to_contain_text("queued")
    await _shot(page, "jobs")
    await page.click(f"[data-cancel='{queued}']")
    await expect(page.locator(".notice")).to_contain_text("Cancelling the job")
    await expect(page.locator(f"tr[data-job='{queued}']")).to_contain_text("cancelled")

    await page.click(".admin-nav >> text=Hosts")
    await expect(page.locator("tr[data-host=host-a]")).to_contain_text("3 / 4")
    await page.click("[data-drain=host-b]")
    await expect(page.locator(".notice")).to_contain_text("Drained host-b")
    await expect(page.locator("tr[data-host=host-b] [data-state]")).to_have_text("drained")
    await _shot(page, "hosts")
    await page.click("[data-return=host-b]")
    await expect(page.locator("tr[data-host=host-b] [data-state]")).to_have_text("healthy")

    await page.click(".admin-nav >> text=Audit")
    await _shot(page, "audit")
    await page.fill("input[name=action]", "host.drain")
    await page.click("#audit-filters button[type=submit]")
    await expect(page.locator("#audit-list tbody tr")).to_have_count(1)
    await expect(page.locator("#audit-list")).to_contain_text("host-b")
    await expect(page.locator("#audit-list")).to_contain_text("127.0.0.1")
    await page.fill("input[name=action]", "")
    await page.fill("input[name=actor_name]", "admin")
    await page.click("#audit-filters button[type=submit]")
    for action in ("group.remove_member", "session.stop", "job.cancel", "host.return"):
        await expect(page.locator("#audit-list")).to_contain_text(action)
    await _shot(page, "audit-filtered")
    await page.fill("input[name=actor_name]", "")
    await page.fill("input[name=since]", "2999-01-01T00:00")
    await page.click("#audit-filters button[type=submit]")
    await expect(page.locator(".empty-title")).to_have_text("Nothing matches")
    await page.goto(stack.url("/admin/audit?since=yesterday"))
    await expect(page.locator(".alert")).to_contain_text("Since: Input should be a valid datetime")

    await page.click(".admin-nav >> text=Usage")  # another feature's page; only linked here
    await expect(page).to_have_url(stack.url("/admin/usage"))


async def test_audit_pages_walk_older_entries(
    jobs: tuple[Stack, WorkerDriver], page: Page
) -> None:
    stack, _ = jobs
    for n in range(55):  # more than a page (50) of group.create rows
        status, body = await call(stack, "POST", "/api/v1/groups", json={"name": f"g{n:02d}"})
        assert status == 201, body
    await sign_in(page, stack)
    await page.goto(stack.url("/admin/audit?action=group.create"))
    await expect(page.locator("#audit-list tbody tr")).to_have_count(50)
    await expect(page.locator("#audit-list tbody tr").first).to_contain_text("group.create")
    await page.click("#audit-older")
    await expect(page.locator("#audit-list tbody tr")).to_have_count(5)
    await expect(page.locator("#audit-older")).to_have_count(0)
    await _shot(page, "audit-older")
    await page.click("a[rel=first]")
    await expect(page.locator("#audit-list tbody tr")).to_have_count(50)


async def test_admin_pages_do_not_exist_for_others(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    await stack.create_user("erin", "erin-password-1")
    await _report_hosts(stack)
    jar = aiohttp.CookieJar(unsafe=True)  # keeps the session cookie of an IP address
    async with aiohttp.ClientSession(base_url=stack.portal_url, cookie_jar=jar) as http:
        async with http.get("/login") as resp:
            csrf = _csrf(await resp.text())
        async with http.post("/login", data={"csrf_token": csrf, "username": "erin",
                                             "password": "erin-password-1"}) as resp:
            assert resp.status == 200  # followed to the dashboard
            csrf = _csrf(await resp.text())
            assert 'href="/admin"' not in await resp.text()
        for path in ADMIN_PAGES:
            async with http.get(path, allow_redirects=False) as resp:
                assert resp.status == 404, path
        assert stack.backend.pool is not None
        async with stack.backend.pool.acquire() as conn:
            before = await db_state.tables(conn, ["users", "groups", "docker_hosts"])
            for path, form in [("/admin/users", {"username": "mallory", "password": "x" * 10}),
                               ("/admin/groups", {"name": "thieves"}),
                               ("/admin/hosts/host-a/drain", {})]:
                async with http.post(path, data={"csrf_token": csrf, **form},
                                     allow_redirects=False) as resp:
                    assert resp.status == 404, path
            assert await db_state.tables(conn, ["users", "groups", "docker_hosts"]) == before
    async with aiohttp.ClientSession(base_url=stack.portal_url) as anonymous, \
            anonymous.get("/admin/hosts", allow_redirects=False) as resp:
        assert (resp.status, resp.headers["Location"]) == (302, "/login")


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]
