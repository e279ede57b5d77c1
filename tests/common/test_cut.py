"""A worker's stop ends even when a cancelled task's cleanup hangs: the task is left behind
and logged with where it waits (common.lifecycle.cut, used by the solve and session
workers' close)."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from common import lifecycle


async def test_a_cleanup_that_hangs_is_left_behind_and_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifecycle, "CUT_WAIT_S", 0.2)
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await release.wait()  # a cleanup that never ends on its own

    async def polite() -> None:
        await asyncio.sleep(3600)

    hanging = asyncio.create_task(stubborn(), name="attempt-hangs")
    ending = asyncio.create_task(polite(), name="attempt-ends")
    await asyncio.sleep(0)
    with capture_logs() as logs:
        await asyncio.wait_for(lifecycle.cut([hanging, None, ending]), 5)
    assert ending.cancelled() and not hanging.done()
    [entry] = [e for e in logs if e["event"] == "task_cut_hangs"]
    assert entry["task"] == "attempt-hangs"
    assert any("stubborn" in where for where in entry["waits_in"]), entry
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await hanging
