"""A session whose Docker host failed is restarted elsewhere from its last autosave.

The real backend in-process (PostgreSQL, RabbitMQ) and fake session workers speaking the
real protocol (tests/sessions/backend_support.py): worker s1 runs the session, autosaves,
then reports ``failed`` with reason ``host_down`` (what session_svc does when its pool marks
the host down). Backend records ``lost`` (reason ``host_down``), requests the session again
and sends StartSession; worker s2 claims attempt 2 and is given the autosave's data (the case
it was opened from stays its ``case_id``). The session, its ``ready`` event and its page say
"restarted on another host after a host failure, data as of the autosave at HH:MM:SS". s1's
late reports about attempt 1 change nothing. An outside consumer sees requested, ready, lost, ready.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from common.amqp.rpc import RpcClient
from common.contracts.jobs import BlobRef
from common.contracts.methods import SessionMethods
from common.contracts.sessions import SessionSaveCase
from tests.backend.helpers import SHA
from tests.backend.jobs_support import make_case, setup_app
from tests.sessions.backend_support import (  # noqa: F401
    FakeSessionWorker,
    create,
    get,
    sessions_backend,
)
from tests.support.events import EventTap

pytestmark = pytest.mark.usefixtures("sessions_backend")
AUTOSAVE = BlobRef(s3_key="cases/autosave-1", sha256=SHA, size_bytes=11)


async def test_a_session_on_a_failed_host_restarts_elsewhere_from_its_autosave(
    rpc: RpcClient, amqp_url: str, pg_dsn: str,
) -> None:
    alice = await setup_app(rpc)
    opened_from = await make_case(rpc, alice)
    async with EventTap(amqp_url, "modelport.session.*") as tap, \
            FakeSessionWorker(amqp_url, rpc, "s1") as s1, \
            FakeSessionWorker(amqp_url, rpc, "s2") as s2:
        session = await create(rpc, alice, case_id=opened_from.id)
        await _starts(s1, s2, session.id, 1)
        first = await s1.claim_now(session.id)
        assert first.current and first.case is not None
        assert first.case.s3_key == f"cases/{opened_from.id}"
        assert await s1.ready(session.id)
        who = {"worker": "s1", "session_id": session.id, "attempt": 1}
        saved = await rpc.call_method(SessionMethods.SAVE_CASE, SessionSaveCase(
            **who, name="autosave", blob=AUTOSAVE, autosave=True))

        assert await s1.host_down(session.id, 1)
        assert not await s1.host_down(session.id, 1)  # a repeat changes nothing
        await _starts(s1, s2, session.id, 2)  # backend sent StartSession again
        launch = await s2.claim_now(session.id)
        assert launch.current and launch.attempt == 2
        assert launch.case == AUTOSAVE  # the autosave's data, not the opened case's
        assert launch.case_id == opened_from.id and launch.autosave_case_id == saved.id
        assert await s2.ready(session.id, attempt=2)
        ready = await tap.wait_for(lambda e: e["type"] == "modelport.session.ready"
                                   and e["data"]["attempt"] == 2)
        # the old worker's late reports of attempt 1 are stale
        assert [s.reason for s in (await s1.report((session.id, 1, 0.0))).stop] == ["stale"]
        assert not await s1.ready(session.id, attempt=1)
    seen = await get(rpc, alice, session.id)
    assert (seen.state, seen.attempt, seen.reason) == ("ready", 2, "host_down")
    autosaved_at = await _autosaved_at(pg_dsn, session.id)
    expected = ("Restarted on another host after a host failure; data as of the autosave at "
                f"{autosaved_at.astimezone(UTC):%H:%M:%S} UTC.")
    assert seen.message == expected and ready["data"]["message"] == expected
    events = [(e["type"].rsplit(".", 1)[1], e["data"]["attempt"], e["data"]["reason"])
              for e in tap.events if e["subject"] == session.id]
    assert [k for k, _, _ in events] == ["requested", "ready", "lost", "ready"], events
    assert events[1:] == [("ready", 1, None), ("lost", 1, "host_down"),
                          ("ready", 2, "host_down")], events


async def test_without_an_autosave_it_restarts_from_what_it_was_opened_with(
    rpc: RpcClient, amqp_url: str,
) -> None:
    alice = await setup_app(rpc)
    async with FakeSessionWorker(amqp_url, rpc, "s1") as s1, \
            FakeSessionWorker(amqp_url, rpc, "s2") as s2:
        session = await create(rpc, alice)
        await _starts(s1, s2, session.id, 1)
        await s1.claim_now(session.id)
        assert await s1.host_down(session.id, 1)  # failed while still starting
        await _starts(s1, s2, session.id, 2)
        launch = await s2.claim_now(session.id)
        assert launch.current and launch.attempt == 2 and launch.case is None
        seen = await get(rpc, alice, session.id)
    assert (seen.state, seen.reason) == ("starting", "host_down")
    assert seen.message is not None and "no autosave had been made yet" in seen.message


async def _starts(a: FakeSessionWorker, b: FakeSessionWorker, session_id: str,
                  count: int) -> None:
    """Wait (up to 15 s) until ``count`` StartSession of the session reached the two workers
    (they share the queue: either may get one)."""
    async with asyncio.timeout(15):
        while True:
            if sum(m["_type"] == "session.start" and m["session_id"] == session_id
                   for m in a.messages + b.messages) >= count:
                return
            await asyncio.sleep(0.05)


async def _autosaved_at(pg_dsn: str, session_id: str) -> datetime:
    conn = await asyncpg.connect(pg_dsn)
    try:
        at: datetime = await conn.fetchval("SELECT autosaved_at FROM sessions WHERE id = $1::uuid",
                                   session_id)
        return at
    finally:
        await conn.close()
