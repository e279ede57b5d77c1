"""A real browser signs in through the login page, sees the dashboard and signs out."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.portal.browser import ARTIFACTS, BROWSER_MARKS
from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER

pytestmark = BROWSER_MARKS
PAGE_HEIGHT = 800  # the page fixture's viewport


async def test_sign_in_dashboard_sign_out(page: Page, portal_url: str) -> None:
    await page.goto(f"{portal_url}/")
    await expect(page).to_have_url(f"{portal_url}/login")
    await page.fill("#username", ADMIN_USER)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.locator("input[name=csrf_token]").evaluate("field => field.value = 'forged'")
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_contain_text("403")
    await page.screenshot(path=ARTIFACTS / "csrf-rejected.png", full_page=True)

    await page.goto(f"{portal_url}/login")
    await page.fill("#username", ADMIN_USER)
    await page.fill("#password", "wrong-password")
    await page.click("button[type=submit]")
    await expect(page.locator(".alert")).to_contain_text("Wrong username or password")
    await page.screenshot(path=ARTIFACTS / "login-error.png", full_page=True)

    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{portal_url}/")
    await expect(page.locator(".whoami")).to_contain_text(f"Signed in as {ADMIN_USER}")
    await expect(page.locator("#apps")).to_contain_text("No apps yet")
    await page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)

    await page.click("text=Sign out")
    await expect(page).to_have_url(f"{portal_url}/login")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.screenshot(path=ARTIFACTS / "login.png", full_page=True)
    await page.goto(f"{portal_url}/")
    await expect(page).to_have_url(f"{portal_url}/login")
