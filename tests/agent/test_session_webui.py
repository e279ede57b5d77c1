"""The session WebUI in Debian's Chromium, against the session agent directly (behind the
test-side host, so Solve really solves): edit a demand cell, Solve with live progress, see the
total cost and the chart change, a refused cell, save the case, paste a 3×2 block, undo.
The agent sends the CSP sandbox itself, so the page runs with an opaque origin as behind the
portal's proxy. Screenshots go to test-artifacts/session-agent/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.agent.session_support import Live, running

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "session-agent"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture
async def session() -> AsyncIterator[Live]:
    async with running() as live:
        yield live


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; missing, the test fails (it is never skipped)."""
    assert CHROMIUM.exists(), f"the browser tests need Chromium at {CHROMIUM}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def page(session: Live, chromium: Path) -> AsyncIterator[Page]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1400, "height": 1100})
        try:
            found = await context.new_page()
            errors: list[str] = []
            found.on("pageerror", lambda exc: errors.append(str(exc)))
            found.on("console", lambda m: errors.append(m.text) if m.type == "error"
                     and "status of 422" not in m.text else None)  # refusals are expected
            await found.goto(session.url())
            await expect(found.locator("body[data-ready=true]")).to_have_count(1, timeout=20000)
            await expect(found.locator("#conn")).to_have_text("live")
            yield found
            assert errors == [], errors
        finally:
            await context.close()
            await browser.close()


def cell(page: Page, identifier: str, row: str, field: str = "value") -> Any:
    table = page.locator(f"section.mp-table[data-identifier={identifier}]")
    return table.locator(".tabulator-row", has_text=row).locator(
        f".tabulator-cell[tabulator-field='{field}']")


async def edit(page: Page, target: Any, text: str, identifier: str) -> None:
    async with page.expect_response(lambda r: r.url.endswith(f"api/data/{identifier}")
                                    and r.request.method == "PATCH"):
        await target.dblclick()
        await page.keyboard.press("Control+A")
        await page.keyboard.type(text)
        await page.keyboard.press("Enter")


async def chart_values(page: Page, identifier: str) -> list[list[float]]:
    return await page.evaluate(
        """(name) => Chart.getChart(document.querySelector(`canvas[data-identifier=${name}]`))
                     .data.datasets.map((d) => d.data)""", identifier)


async def solve(page: Page) -> list[str]:
    """Press Solve; every state the page showed until the result is loaded."""
    await page.evaluate("""() => {
        window.mpStates = [];
        const text = document.querySelector('.mp-job-text');
        new MutationObserver(() => window.mpStates.push(text.dataset.state || ''))
            .observe(text, {attributes: true, childList: true, characterData: true, subtree: true});
    }""")
    await page.click("button[data-procedure=solve]")
    await page.wait_for_function("() => window.mpStates.includes('loaded')", timeout=60000)
    await expect(page.locator(".mp-job-text")).to_have_attribute("data-state", "loaded")
    states: list[str] = await page.evaluate("window.mpStates")
    return states


async def test_edit_solve_watch_progress_and_see_the_cost_and_chart_change(
    session: Live, page: Page
) -> None:
    assert await page.evaluate("window.origin") == "null"  # sandboxed: an opaque origin
    await expect(page.locator("#app-title")).to_have_text("Transport")
    states = await solve(page)
    assert "queued" in states and "running" in states, states
    total = page.locator(".mp-scalar-value[data-identifier=total_cost]")
    await expect(total).to_have_text("153.675")
    before = await chart_values(page, "shipment")
    await edit(page, cell(page, "demand", "new-york"), "340", "demand")
    assert (await session.value("demand"))["new-york"] == 340
    await expect(page.locator("#case-dirty")).to_be_visible()
    await page.screenshot(path=ARTIFACTS / "1-edited-demand.png", full_page=True)
    states = await solve(page)
    assert "running" in states, states
    await expect(total).not_to_have_text("153.675")
    cost = float((await total.inner_text()).replace(",", ""))
    assert cost == pytest.approx(await session.value("total_cost")) and cost > 153.675
    after = await chart_values(page, "shipment")
    assert after != before and sum(map(sum, after)) == pytest.approx(sum(map(sum, before)) + 15)
    await page.screenshot(path=ARTIFACTS / "2-solved.png", full_page=True)


async def test_a_refused_cell_is_flagged_and_the_data_stays(session: Live, page: Page) -> None:
    await edit(page, cell(page, "demand", "chicago"), "-5", "demand")
    target = cell(page, "demand", "chicago")
    await expect(target).to_have_class(lambda_has("mp-refused"))
    message = page.locator("section.mp-table[data-identifier=demand] .mp-errors li")
    await expect(message).to_contain_text("demand['chicago']: -5 is below the lower bound 0")
    await expect(message).to_contain_text("lower_bound")
    await expect(target).to_have_text("300")
    assert (await session.value("demand"))["chicago"] == 300
    await page.screenshot(path=ARTIFACTS / "3-refused.png", full_page=True)


def lambda_has(name: str) -> Any:
    import re

    return re.compile(rf"(^|\s){name}(\s|$)")


async def test_save_as_names_the_case_on_the_platform(session: Live, page: Page) -> None:
    await edit(page, cell(page, "demand", "topeka"), "280", "demand")
    await page.click("#case-save-as")
    await page.fill("#save-as-name", "topeka 280")
    await page.click("#save-as-form button[type=submit]")
    await expect(page.locator("#case-name")).to_have_text("topeka 280")
    await expect(page.locator("#case-dirty")).to_be_hidden()
    saved = [c for c in session.host.cases.values() if c.name == "topeka 280"]
    assert len(saved) == 1 and not saved[0].autosave
    await page.screenshot(path=ARTIFACTS / "4-saved.png")


PASTE = """(text) => {
    const grid = document.querySelector('section.mp-table[data-identifier=distance] .tabulator');
    const data = new DataTransfer();
    data.setData('text/plain', text);
    grid.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
}"""


async def test_a_3x2_block_pasted_into_the_grid_is_applied_and_an_edit_undone(
    session: Live, page: Page
) -> None:
    first = cell(page, "distance", "new-york", "c0")   # markets down, plants across
    await first.click()
    block = "2.1\t2.2\n1.1\t1.2\n1.5\t1.6"
    async with page.expect_response(lambda r: r.url.endswith("api/data/distance")
                                    and r.request.method == "PATCH") as answer:
        await page.evaluate(PASTE, block)
    assert (await answer.value).status == 200
    distance = {(p, m): v for p, m, v in await session.value("distance")}
    assert [distance["seattle", m] for m in ("new-york", "chicago", "topeka")] == [2.1, 1.1, 1.5]
    assert [distance["san-diego", m] for m in ("new-york", "chicago", "topeka")] == [2.2, 1.2,
                                                                                    1.6]
    await expect(cell(page, "distance", "topeka", "c1")).to_have_text("1.6")
    await page.screenshot(path=ARTIFACTS / "5-pasted.png", full_page=True)
    await edit(page, cell(page, "distance", "topeka", "c1"), "9", "distance")
    distance = {(p, m): v for p, m, v in await session.value("distance")}
    assert distance["san-diego", "topeka"] == 9
    async with page.expect_response(lambda r: r.url.endswith("api/data/distance")
                                    and r.request.method == "PATCH"):
        await cell(page, "distance", "chicago", "c0").click()  # the grid has the keyboard
        await page.keyboard.press("Control+z")
    distance = {(p, m): v for p, m, v in await session.value("distance")}
    assert distance["san-diego", "topeka"] == 1.6  # the edit is undone, on the server too
    await expect(cell(page, "distance", "topeka", "c1")).to_have_text("1.6")
