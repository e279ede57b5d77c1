"""The outbox relay sends a batch's events back to back: all arrive, once each, in commit
order, across several batches."""

from __future__ import annotations

from backend_svc import db
from backend_svc.outbox import record_event
from backend_svc.service import BackendService
from tests.support.events import EventTap

EVENTS = 350  # three and a half batches of the default 100


async def test_batches_arrive_whole_once_and_in_order(
    backend: BackendService, pg_dsn: str, amqp_url: str
) -> None:
    async with EventTap(amqp_url, "modelport.test.#") as tap:
        conn = await db.connect(pg_dsn)
        try:
            for start in range(0, EVENTS, 50):  # several commits, each of several events
                async with conn.transaction():
                    for n in range(start, min(start + 50, EVENTS)):
                        await record_event(conn, "modelport.test.counted", {"n": n},
                                           subject=str(n))
        finally:
            await conn.close()
        await tap.wait_for(lambda e: e["data"]["n"] == EVENTS - 1, timeout_s=60)
        assert [e["data"]["n"] for e in tap.events] == list(range(EVENTS))
        assert len({e["id"] for e in tap.events}) == EVENTS
