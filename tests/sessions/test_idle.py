"""Idle culling: a warning on the page first, the case saved before the stop."""

from __future__ import annotations

import asyncio

import pytest

from tests.sessions.platform import SessionPlatform
from tests.sessions.test_session_worker import through, user

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def session_options() -> dict[str, object]:
    return {"idle_timeout_s": 3.0, "idle_warning_s": 2.0}


async def test_an_idle_session_is_warned_saved_and_stopped(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    session = await sessions.ready(token=alice)
    async with asyncio.timeout(20):
        while True:  # the notices view does not count as use
            status, notices, _ = await through(sessions, "GET", session["id"], "notices", alice)
            if status != 200 or notices:
                break
            await asyncio.sleep(0.2)
    assert notices and notices[0]["level"] == "warning" and "idle" in notices[0]["message"]
    stopped = await sessions.settled(session["id"], alice, leave=("ready", "stopping"))
    assert stopped["state"] == "stopped" and stopped["reason"] == "idle"
    assert stopped["autosave_case_id"]
    status, case = await sessions.call("GET", f"/api/v1/cases/{stopped['autosave_case_id']}",
                                       alice)
    assert status == 200 and case["name"] == "autosave" and case["owner"] == "alice"
