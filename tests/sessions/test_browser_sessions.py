"""The issue's acceptance in Debian's Chromium, with the real agent in the real runtime image,
a real session worker (warm pool of one) and a real solve worker: a non-admin user opens
transport from the Apps page, changes a demand cell, solves, watches the progress, sees the
total cost and the chart change, saves the case under a name, stops the session, opens again
from the saved case and sees the changed cell. The page runs sandboxed: it cannot read the
portal's cookie nor call the portal as the user. A killed session is shown as lost.
Screenshots go to test-artifacts/sessions/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.portal.browser import open_page
from tests.sessions.browser import cell, open_app, sign_in
from tests.sessions.platform import SessionPlatform

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "sessions"
REAL_AGENT = ["python", "-m", "modelport.agent", "session"]
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture
def session_options() -> dict[str, object]:
    return {"agent_command": REAL_AGENT, "warm_sessions": 1, "session_memory_mb": 512,
            "autosave_s": 1.0, "start_timeout_s": 150.0}


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async for found in open_page(height=1100):
        yield found


async def chart_values(page: Page, identifier: str) -> list[list[float]]:
    return await page.evaluate(
        """(name) => Chart.getChart(document.querySelector(`canvas[data-identifier=${name}]`))
                     .data.datasets.map((d) => d.data)""", identifier)


async def sandboxed(page: Page) -> dict[str, Any]:
    """What the session's page can see of the portal: its origin, the portal's cookie, and
    the portal's API called with the user's cookie."""
    return dict(await page.evaluate("""async () => {
        let cookie;
        try { cookie = document.cookie; } catch (e) { cookie = "blocked: " + e.name; }
        let me;
        try {
            const r = await fetch("/api/v1/me", {credentials: "include"});
            me = "status " + r.status;
        } catch (e) { me = "blocked: " + e.name; }
        return {origin: window.origin, cookie, me};
    }"""))


async def test_open_edit_solve_save_stop_and_reopen_from_the_saved_case(
    sessions: SessionPlatform, page: Page,
) -> None:
    await sessions.platform.start_worker("solve-a")
    await sign_in(page, sessions, "alice")
    session_id = await open_app(page, sessions)
    seen = await sandboxed(page)
    assert seen["origin"] == "null"
    assert seen["cookie"].startswith("blocked"), seen
    assert seen["me"].startswith("blocked") or seen["me"] != "status 200", seen
    await expect(page.locator("#app-title")).to_have_text("Transport")
    before = await chart_values(page, "shipment")
    target = cell(page, "demand", "new-york")
    await target.dblclick()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("340")
    await page.keyboard.press("Enter")
    await expect(page.locator("#case-dirty")).to_be_visible()
    await page.screenshot(path=ARTIFACTS / "1-edited.png", full_page=True)
    await page.evaluate("""() => {
        window.mpStates = [];
        const text = document.querySelector('.mp-job-text');
        new MutationObserver(() => window.mpStates.push(text.dataset.state || ''))
            .observe(text, {attributes: true, childList: true, characterData: true, subtree: true});
    }""")
    await page.click("button[data-procedure=solve]")
    await page.wait_for_function("() => window.mpStates.includes('loaded')", timeout=120_000)
    states = await page.evaluate("window.mpStates")
    assert "running" in states or "queued" in states, states
    total = page.locator(".mp-scalar-value[data-identifier=total_cost]")
    await expect(total).not_to_have_text("")
    cost = float(await total.inner_text())
    assert cost > 153.675
    assert await chart_values(page, "shipment") != before
    await page.screenshot(path=ARTIFACTS / "2-solved.png", full_page=True)
    await page.click("#case-save-as")
    await page.fill("#save-as-name", "alice plan")
    await page.click("#save-as-form button[type=submit]")
    await expect(page.locator("#case-name")).to_have_text("alice plan")
    await page.goto(sessions.stack.url(f"/sessions/{session_id}"))
    await page.click(f"button[data-stop='{session_id}']")
    await expect(page.locator("#session[data-state=stopped]")).to_have_count(1, timeout=60_000)
    await page.screenshot(path=ARTIFACTS / "3-stopped.png", full_page=True)
    again = await open_app(page, sessions, case="alice plan")
    assert again != session_id
    await expect(cell(page, "demand", "new-york")).to_have_text("340")
    await expect(page.locator("#case-name")).to_have_text("alice plan")
    await page.screenshot(path=ARTIFACTS / "4-reopened.png", full_page=True)


async def test_a_killed_session_shows_lost_and_reopens_from_its_autosave(
    sessions: SessionPlatform, page: Page,
) -> None:
    await sign_in(page, sessions, "alice")
    session_id = await open_app(page, sessions)
    target = cell(page, "demand", "chicago")
    await target.dblclick()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("333")
    await page.keyboard.press("Enter")
    async with asyncio.timeout(30):  # the agent autosaves every second here
        while True:
            _, seen = await sessions.call("GET", f"/api/v1/sessions/{session_id}")
            if seen["autosave_case_id"]:
                break
            await asyncio.sleep(0.3)
    await page.goto(sessions.stack.url("/sessions"))
    await expect(page.locator(f"tr[data-session='{session_id}']")).to_contain_text("ready")
    kill = await asyncio.create_subprocess_exec("docker", "kill", sessions.container_of(session_id),
                                                stdout=asyncio.subprocess.DEVNULL)
    assert await kill.wait() == 0
    await page.goto(sessions.stack.url(f"/sessions/{session_id}"))
    status = page.locator("#session-status")
    async with asyncio.timeout(30):
        while "lost" not in (await status.inner_text()):
            await asyncio.sleep(0.3)
            await page.reload()
    assert "lost" in await status.inner_text()
    await page.screenshot(path=ARTIFACTS / "5-lost.png", full_page=True)
    await page.click("#reopen-autosave")
    opener = page.locator("#session-open")
    await expect(opener).to_be_visible(timeout=90_000)
    await opener.click()
    await expect(page.locator("body[data-ready=true]")).to_have_count(1, timeout=30_000)
    await expect(cell(page, "demand", "chicago")).to_have_text("333")
