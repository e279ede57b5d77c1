"""What the Chromium tests of sessions share: signing in as a new user, opening transport
from the Apps page, a cell of a WebUI table."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.sessions.platform import SessionPlatform


async def sign_in(page: Page, sessions: SessionPlatform, name: str) -> None:
    await sessions.stack.create_user(name, "password-123")
    await page.goto(sessions.stack.url("/login"))
    await page.fill("#username", name)
    await page.fill("#password", "password-123")
    await page.click("button[type=submit]")
    await expect(page).to_have_url(sessions.stack.url("/"))


async def open_app(page: Page, sessions: SessionPlatform, case: str | None = None) -> str:
    """Open transport from the Apps page (from ``case`` when named); return the session id
    once the session's page offers it."""
    await page.goto(sessions.stack.url("/apps"))
    form = page.locator("form[data-open=transport]")
    if case is not None:
        await form.locator("select[name=case_id]").select_option(label=case)
    await form.locator("button[type=submit]").click()
    opener = page.locator("#session-open")
    await expect(opener).to_be_visible(timeout=90_000)
    session_id = page.url.rstrip("/").rsplit("/", 1)[1]
    await opener.click()
    await expect(page.locator("body[data-ready=true]")).to_have_count(1, timeout=30_000)
    await expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
    return session_id


def cell(page: Page, identifier: str, row: str, field: str = "value") -> Any:
    table = page.locator(f"section.mp-table[data-identifier={identifier}]")
    return table.locator(".tabulator-row", has_text=row).locator(
        f".tabulator-cell[tabulator-field='{field}']")
