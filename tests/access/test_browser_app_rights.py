"""The admin pages in Chromium give an app to a group: an admin creates a group, adds a member
and grants the group the use of ``transport``; the member then sees the app on the Apps page
and a user outside the group does not (nor can open it). Screenshots:
test-artifacts/portal/rights-*.png."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.access import rights_world as rw
from tests.access.rights_world import PASSWORD, World
from tests.portal.browser import ARTIFACTS, BROWSER_MARKS, sign_in

pytestmark = BROWSER_MARKS


async def _as(page: Page, world: World, username: str | None) -> None:
    await page.context.clear_cookies()
    if username is None:
        await sign_in(page, world.stack)
    else:
        await sign_in(page, world.stack, username, PASSWORD)


async def test_an_admin_grants_an_app_to_a_group_and_only_its_members_see_it(
    rights_world: World, page: Page
) -> None:
    world = rights_world
    await _as(page, world, "bob")  # before: an app with no use group is everyone's
    await page.goto(world.stack.url("/apps"))
    await expect(page.locator("#app-transport")).to_be_visible()

    await _as(page, world, None)
    await page.goto(world.stack.url("/admin/groups"))
    await page.fill("#new-group", "ops")
    await page.click("#create-group button[type=submit]")
    await expect(page.locator("[data-group=ops]")).to_be_visible()
    await page.fill("[data-group=ops] input[name=username]", "carol")
    await page.click("[data-group=ops] .add-member button")
    await expect(page.locator("[data-group=ops] [data-remove=carol]")).to_be_attached()

    await page.click("nav.admin-nav >> text=App rights")
    row = page.locator("tr[data-app=transport]")
    await row.locator("input[data-use=ops]").check()
    await row.locator("button[type=submit]").click()
    await expect(page.locator("body")).to_contain_text("Saved the rights of transport")
    await expect(page.locator("tr[data-app=transport] input[data-use=ops]")).to_be_checked()
    await page.screenshot(path=ARTIFACTS / "rights-admin-apps.png", full_page=True)
    rights = await rw.ok(world.stack, "GET", "/api/v1/apps/transport/rights",
                         world.stack.admin_token, 200)
    assert rights["use"] == ["ops"]

    await _as(page, world, "carol")  # a member of ops
    await page.goto(world.stack.url("/apps"))
    await expect(page.locator("#app-transport")).to_be_visible()
    await page.screenshot(path=ARTIFACTS / "rights-member.png", full_page=True)

    await _as(page, world, "bob")  # not a member
    await page.goto(world.stack.url("/apps"))
    await expect(page.locator("#app-list")).to_be_visible()
    await expect(page.locator("#app-transport")).to_have_count(0)
    await page.screenshot(path=ARTIFACTS / "rights-non-member.png", full_page=True)
    status, _ = await rw.api(world.stack, "GET", "/api/v1/apps/transport", world.tokens["other"])
    assert status == 404
