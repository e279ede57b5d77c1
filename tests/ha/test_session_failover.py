"""A data session survives the failure of its Docker host: real engines, real containers.

Two Docker hosts on this machine: ``host-a`` (the main engine) and ``host-b`` (a second dockerd,
tests/ha/engine.py, sharing the machine's network namespace: the sessions bridge is named per
host, so both can run sessions). A real session worker drives both; the session runs the real
agent in the real runtime image. In Chromium a user opens transport (placed on host-b: host-a
is drained for the first launch), changes a demand cell and waits until that change is
autosaved. Then host-b's engine is killed (SIGKILL, socket gone), or shut down (SIGTERM: it
stops its containers first, so the agent ends while the engine still answers, then its socket
goes). The worker reports the session ``host_down`` (the lease is 120 s here: nobody waits for
it), backend restarts
it and the worker launches attempt 2 on host-a from the autosave. The session's portal page
says it was restarted on another host with the time of the autosave, and the WebUI shows the
changed cell. An outside consumer sees requested, ready, lost (host_down), ready, each once.
Screenshots go to test-artifacts/sessions/.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page, expect

from common.settings import S3Settings
from tests.e2e.runtime import E2ERuntime
from tests.ha.engine import Engine, engine
from tests.portal.browser import open_page
from tests.sessions.browser import cell, open_app, sign_in
from tests.sessions.platform import SessionPlatform, session_platform
from tests.support.db_time import db_now

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "sessions"
REAL_AGENT = ["python", "-m", "modelport.agent", "session"]
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async for found in open_page(height=1000):
        yield found


@pytest.fixture
def host_b() -> Any:
    with engine() as made:
        yield made


@pytest.fixture
async def sessions(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
                   runtime: E2ERuntime, docker_engine: str, label: str, host_b: Engine,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SessionPlatform]:
    """The platform with one session worker on host-a and host-b (the runtime image loaded
    on host-b beforehand, as a host that ran it before would have it)."""
    monkeypatch.setenv("MODELPORT_SESSION_LEASE_TTL_S", "120")
    monkeypatch.setenv("MODELPORT_SCHEDULER_INTERVAL_S", "0.2")
    await _copy_image(runtime.tag, host_b.url)
    hosts = [{"name": "host-a", "url": docker_engine, "slots": 8, "zone": "a"},
             {"name": "host-b", "url": host_b.url, "slots": 8, "zone": "b"}]
    async with session_platform(
            pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime, docker_url=docker_engine,
            label=label, docker_options={"hosts": hosts, "health_interval_s": 0.5,
                                         "ping_timeout_s": 1.0},
            agent_command=REAL_AGENT, session_memory_mb=512, autosave_s=1.0,
            start_timeout_s=150.0) as found:
        yield found


async def _copy_image(tag: str, url: str) -> None:
    proc = await asyncio.create_subprocess_shell(
        f"docker save {tag} | docker -H {url} load -q", stdout=asyncio.subprocess.DEVNULL)
    assert await proc.wait() == 0


@pytest.mark.parametrize("failure", ["killed", "shut-down"])
async def test_a_session_on_a_failed_host_restarts_elsewhere_from_its_autosave(
    sessions: SessionPlatform, host_b: Engine, page: Page, pg_dsn: str, failure: str,
) -> None:
    pool = sessions.service.pool
    worker = sessions.service.worker
    assert pool is not None and worker is not None
    pool.drain("host-a")  # the first launch goes to host-b
    await sign_in(page, sessions, "alice")
    session_id = await open_app(page, sessions)
    assert worker.sessions[session_id].host == "host-b"
    pool.resume("host-a")
    edited_at = await db_now(pg_dsn)
    target = cell(page, "demand", "chicago")
    await target.dblclick()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("333")
    await page.keyboard.press("Enter")
    autosaved_at = await _autosaved_after(pg_dsn, session_id, edited_at)
    await page.screenshot(path=ARTIFACTS / "6-on-host-b.png", full_page=True)

    await asyncio.to_thread(host_b.fail if failure == "killed" else host_b.stop)
    restarted = await _ready_again(sessions, session_id)
    assert (restarted["state"], restarted["reason"]) == ("ready", "host_down"), restarted
    assert worker.sessions[session_id].host == "host-a"
    note = ("Restarted on another host after a host failure; data as of the autosave at "
            f"{autosaved_at.astimezone(UTC):%H:%M:%S} UTC.")
    assert restarted["message"] == note

    await page.goto(sessions.stack.url(f"/sessions/{session_id}"))
    await expect(page.locator("#session-restarted")).to_have_text(note)
    await page.screenshot(path=ARTIFACTS / f"7-restarted-{failure}.png", full_page=True)
    await page.click("#session-open")
    await expect(page.locator("body[data-ready=true]")).to_have_count(1, timeout=30_000)
    await expect(cell(page, "demand", "chicago")).to_have_text("333")
    await page.screenshot(path=ARTIFACTS / f"8-restarted-data-{failure}.png", full_page=True)
    _check_events(sessions, session_id, note)


async def _ready_again(sessions: SessionPlatform, session_id: str) -> dict[str, Any]:
    """The session (as the API shows it) once the event of its second attempt's ``ready``
    arrived (up to 180 s)."""
    await sessions.platform.tap.wait_for(
        lambda e: e["subject"] == session_id and e["type"] == "modelport.session.ready"
        and e["data"]["attempt"] == 2, timeout_s=180)
    return await sessions.settled(session_id)


def _check_events(sessions: SessionPlatform, session_id: str, note: str) -> None:
    """What the outside consumer saw of the session: requested, ready (attempt 1), lost
    (host_down), ready (attempt 2, with the note), each event once."""
    seen = [e for e in sessions.platform.tap.events if e["subject"] == session_id]
    ids = Counter(e["id"] for e in seen)
    assert set(ids.values()) == {1}, ids
    story = [(e["type"].rsplit(".", 1)[1], e["data"]["attempt"], e["data"]["reason"])
             for e in seen]
    assert story == [("requested", 0, None), ("ready", 1, None), ("lost", 1, "host_down"),
                     ("ready", 2, "host_down")], story
    assert seen[-1]["data"]["message"] == note


async def _autosaved_after(pg_dsn: str, session_id: str, since: datetime) -> datetime:
    """When the session's autosave was written after ``since`` (polls; fails after 60 s)."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        async with asyncio.timeout(60):
            while True:
                at: datetime | None = await conn.fetchval(
                    "SELECT autosaved_at FROM sessions WHERE id = $1::uuid", session_id)
                if at is not None and at > since:
                    return at
                await asyncio.sleep(0.3)
    finally:
        await conn.close()
