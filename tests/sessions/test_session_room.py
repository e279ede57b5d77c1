"""A session that finds no room on any Docker host waits for some (MODELPORT_ROOM_WAIT_S)
instead of failing at once: it stays ``starting`` and starts when room frees; it fails
``no_capacity``, with its message, only when none freed within the wait. One host with one
slot, the real session worker, backend, portal and engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.sessions.platform import SessionPlatform
from tests.sessions.test_session_worker import user

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def session_options(docker_engine: str, request: pytest.FixtureRequest) -> dict[str, object]:
    return {"room_wait_s": request.param, "docker_options": {
        "hosts": [{"name": "local", "url": docker_engine, "slots": 1}]}}


async def _state_for(sessions: SessionPlatform, session_id: str, token: str,
                     seconds: float) -> set[str]:
    """The states the session was seen in over ``seconds`` (polled every 0.2 s)."""
    seen: set[str] = set()
    for _ in range(int(seconds / 0.2)):
        status, body = await sessions.call("GET", f"/api/v1/sessions/{session_id}", token)
        assert status == 200, body
        seen.add(body["state"])
        await asyncio.sleep(0.2)
    return seen


@pytest.mark.parametrize("session_options", [60.0], indirect=True)
async def test_a_session_waits_for_room_and_starts_when_it_frees(
        sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    first = await sessions.ready(token=alice)
    second = await sessions.open(token=alice)
    # the one slot is taken: the second waits (a failure would show within these 3 s)
    assert await _state_for(sessions, second["id"], alice, 3.0) <= {"requested", "starting"}
    status, _ = await sessions.call("DELETE", f"/api/v1/sessions/{first['id']}", alice)
    assert status in (200, 202)
    started = await sessions.settled(second["id"], alice, timeout_s=60)
    assert started["state"] == "ready", started
    assert len(sessions.platform.containers()) == 1  # the first one's is gone


@pytest.mark.parametrize("session_options", [1.0], indirect=True)
async def test_no_room_within_the_wait_fails_no_capacity_and_leaves_nothing(
        sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    await sessions.ready(token=alice)
    second = await sessions.open(token=alice)
    failed: dict[str, Any] = await sessions.settled(second["id"], alice, timeout_s=60)
    assert (failed["state"], failed["reason"]) == ("failed", "no_capacity"), failed
    assert "room" in failed["message"]
    assert len(sessions.platform.containers()) == 1  # only the first session's
