"""The outbox relay sends a batch's events back to back: all arrive, once each, in commit
order, across several batches, whether a commit wrote its events one by one or in bulk."""

from __future__ import annotations

import asyncpg
import pytest

from backend_svc import audit, db
from backend_svc.outbox import record_event, record_events
from backend_svc.service import BackendService
from common.contracts.base import Principal
from common.contracts.events import CloudEvent
from tests.support.events import EventTap

EVENTS = 350  # three and a half batches of the default 100
COMMIT = 50


async def test_batches_arrive_whole_once_and_in_order(
    backend: BackendService, pg_dsn: str, amqp_url: str
) -> None:
    async with EventTap(amqp_url, "modelport.test.#") as tap:
        conn = await db.connect(pg_dsn)
        try:
            for start in range(0, EVENTS, COMMIT):  # several commits, each of several events
                numbers = range(start, min(start + COMMIT, EVENTS))
                async with conn.transaction():
                    if start // COMMIT % 2:  # every other commit in bulk
                        await record_events(conn, [CloudEvent(
                            type="modelport.test.counted", subject=str(n), data={"n": n})
                            for n in numbers])
                        continue
                    for n in numbers:
                        await record_event(conn, "modelport.test.counted", {"n": n},
                                           subject=str(n))
        finally:
            await conn.close()
        await tap.wait_for(lambda e: e["data"]["n"] == EVENTS - 1, timeout_s=60)
        assert [e["data"]["n"] for e in tap.events] == list(range(EVENTS))
        assert len({e["id"] for e in tap.events}) == EVENTS
        assert [e["subject"] for e in tap.events] == [str(n) for n in range(EVENTS)]


async def test_bulk_events_roll_back_with_their_change(
    backend: BackendService, pg_dsn: str
) -> None:
    """A bulk change that fails leaves neither its events nor its audit rows."""
    conn = await db.connect(pg_dsn)
    try:
        before = await conn.fetchval("SELECT count(*) FROM outbox")
        audited = await conn.fetchval("SELECT count(*) FROM audit_log")
        events = [CloudEvent(type="modelport.test.counted", data={"n": n}) for n in range(3)]
        with pytest.raises(asyncpg.UniqueViolationError):
            async with conn.transaction():
                await audit.record_many(conn, Principal.SYSTEM, "test.bulk",
                                        [("a", {"n": 1}), ("b", {"n": 2})])
                await record_events(conn, events)
                await record_events(conn, events[:1])  # the same id twice: refused
        assert await conn.fetchval("SELECT count(*) FROM outbox") == before
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == audited

        async with conn.transaction():
            await audit.record_many(conn, Principal.SYSTEM, "test.bulk",
                                    [("a", {"n": 1}), ("b", {"n": 2})])
        rows = await conn.fetch("SELECT subject, detail FROM audit_log "
                                "WHERE action = 'test.bulk' ORDER BY id")
        assert [(r["subject"], r["detail"]) for r in rows] == [("a", {"n": 1}), ("b", {"n": 2})]
    finally:
        await conn.close()
