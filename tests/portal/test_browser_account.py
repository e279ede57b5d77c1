"""Chromium on the Account page: make an API token (its secret shown once, and working),
see it listed, revoke it, change the password (a wrong current one refused), and sign out
everywhere (this browser too, and every token)."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Page, expect

from tests.portal.browser import ARTIFACTS, BROWSER_MARKS
from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER

pytestmark = BROWSER_MARKS
PAGE_HEIGHT = 1000  # the page fixture's viewport


async def _me(portal_url: str, token: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(
            f"{portal_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status


async def _sign_in(page: Page, portal_url: str, password: str) -> None:
    await page.goto(f"{portal_url}/login")
    await page.fill("#username", ADMIN_USER)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{portal_url}/")


async def test_tokens_password_and_sign_out_everywhere(page: Page, portal_url: str) -> None:
    await _sign_in(page, portal_url, ADMIN_PASSWORD)
    await page.click("nav >> text=Account")
    await expect(page).to_have_url(f"{portal_url}/account")
    await expect(page.locator("#api-tokens")).to_contain_text("No API tokens")
    await page.fill("#token-name", "nightly runs")
    await page.select_option("#token-scope", "jobs")
    await page.fill("#token-days", "7")
    await page.click("#new-token-form button[type=submit]")
    secret = (await page.locator("#token-secret").inner_text()).strip()
    assert secret.startswith("mp_")
    await expect(page.locator("#new-token")).to_contain_text("shown this once")
    await expect(page.locator("#token-list")).to_contain_text("nightly runs")
    await expect(page.locator("#token-list")).to_contain_text("jobs")
    await page.screenshot(path=ARTIFACTS / "account-token-made.png", full_page=True)
    assert await _me(portal_url, secret) == 200
    await page.goto(f"{portal_url}/account")  # shown once: gone on the next visit
    await expect(page.locator("#new-token")).to_have_count(0)
    assert secret not in await page.content()

    await page.click("#token-list >> text=Revoke")
    await expect(page.locator(".notice")).to_contain_text("Token “nightly runs” revoked")
    await expect(page.locator("#api-tokens")).to_contain_text("No API tokens")
    assert await _me(portal_url, secret) == 401

    await page.fill("#current-password", "not-my-password")
    await page.fill("#new-password", "a-new-password-1")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator("#account-error")).to_contain_text("The current password is wrong")
    await page.fill("#current-password", ADMIN_PASSWORD)
    await page.fill("#new-password", "a-new-password-1")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator(".notice")).to_contain_text("Password changed")

    await page.fill("#token-name", "kept")
    await page.click("#new-token-form button[type=submit]")
    kept = (await page.locator("#token-secret").inner_text()).strip()
    await page.screenshot(path=ARTIFACTS / "account.png", full_page=True)
    await page.click("#sign-out-everywhere")
    await expect(page).to_have_url(f"{portal_url}/login")
    assert await _me(portal_url, kept) == 401
    await page.goto(f"{portal_url}/account")
    await expect(page).to_have_url(f"{portal_url}/login")
    await _sign_in(page, portal_url, "a-new-password-1")
