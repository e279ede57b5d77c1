"""Sessions restarted after a host failure start one after another, not all at once.

The real backend in-process (PostgreSQL, RabbitMQ) with ``restart_spacing_s`` = 1.5 and fake
session workers on the real protocol (tests/sessions/backend_support.py). Worker s1 runs
three sessions; their host fails and s1 reports all three ``host_down`` at the same moment.
Backend gives them restart slots 1.5 s apart (``sessions.not_before``) and sends each one's
StartSession only when its slot has come; a worker that tries to claim one before its slot
is refused. Each is then claimed and ready as attempt 2, and an outside consumer sees each
session's story once. With pacing off (0) the three restarts are sent at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from backend_svc.service import BackendService
from common.amqp.rpc import RpcClient
from tests.backend.conftest import backend_settings
from tests.backend.jobs_support import setup_app
from tests.sessions.backend_support import FakeSessionWorker, create
from tests.support.db_time import db_now, restart_slots
from tests.support.events import EventTap

SPACING_S = 1.5
COUNT = 3


@pytest.fixture(params=[SPACING_S, 0.0], ids=["paced", "pacing-off"])
async def spacing_s(request: pytest.FixtureRequest, pg_dsn: str,
                    amqp_url: str) -> AsyncIterator[float]:
    """A backend with ``restart_spacing_s`` = the parameter; yields it."""
    service = BackendService(backend_settings(
        pg_dsn, amqp_url, scheduler_interval_s=0.2, max_sessions_per_user=COUNT,
        session_lease_ttl_s=30.0, session_claim_timeout_s=30.0,
        restart_spacing_s=request.param))
    await service.start()
    try:
        yield float(request.param)
    finally:
        await service.stop()


async def test_restarts_after_a_host_failure_are_paced(
    spacing_s: float, rpc: RpcClient, amqp_url: str, pg_dsn: str,
) -> None:
    alice = await setup_app(rpc)
    async with EventTap(amqp_url, "modelport.session.*") as tap, \
            FakeSessionWorker(amqp_url, rpc, "s1") as s1, \
            FakeSessionWorker(amqp_url, rpc, "s2") as s2:
        ids = [(await create(rpc, alice)).id for _ in range(COUNT)]
        for session_id in ids:  # all three run on s1
            assert (await s1.claim_now(session_id)).current
            assert await s1.ready(session_id)
        failed_at = await db_now(pg_dsn)
        assert all(await asyncio.gather(*(s1.host_down(i, 1) for i in ids)))

        slots = await restart_slots(pg_dsn, "sessions", ids)
        order = sorted(ids, key=slots.__getitem__)
        assert slots[order[0]] - failed_at < timedelta(seconds=1)  # the first: at once
        for before, after in zip(order, order[1:], strict=False):
            gap = slots[after] - slots[before]
            if spacing_s:  # exactly one spacing apart
                assert gap == timedelta(seconds=spacing_s), slots
            else:  # each at its report's time: all at once
                assert gap < timedelta(seconds=1), slots
        if spacing_s:  # the last one cannot be claimed before its slot
            refused = await s2.claim_now(order[-1])
            assert not refused.current

        for session_id in order:
            start = await _restart_sent(s1, s2, session_id)
            assert start["_at"] >= slots[session_id].timestamp(), (start, slots)
            launch = await s2.claim_now(session_id)
            assert launch.current and launch.attempt == 2
            assert await s2.ready(session_id, attempt=2)
        for session_id in ids:
            await tap.wait_for(lambda e, i=session_id: e["subject"] == i
                               and e["type"] == "modelport.session.ready"
                               and e["data"]["attempt"] == 2)
    for session_id in ids:
        story = [(e["type"].rsplit(".", 1)[1], e["data"]["attempt"], e["data"]["reason"])
                 for e in tap.events if e["subject"] == session_id]
        assert story == [("requested", 0, None), ("ready", 1, None), ("lost", 1, "host_down"),
                         ("ready", 2, "host_down")], story
    assert len({e["id"] for e in tap.events}) == len(tap.events)


async def _restart_sent(a: FakeSessionWorker, b: FakeSessionWorker,
                        session_id: str) -> dict[str, Any]:
    """The second StartSession of the session (its restart), as it arrived at either worker
    (they share the queue); waits up to 15 s."""
    async with asyncio.timeout(15):
        while True:
            starts = sorted((m for m in a.messages + b.messages
                             if m["_type"] == "session.start" and m["session_id"] == session_id),
                            key=lambda m: m["_at"])
            if len(starts) >= 2:
                return starts[1]
            await asyncio.sleep(0.05)
