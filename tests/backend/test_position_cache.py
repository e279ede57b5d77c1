"""Queue positions kept between changes (backend_svc/position_cache.py) stay what sorting the
whole queue says (the oracle), on a real PostgreSQL: a change's NOTIFY drops them, a waiting
job falling due drops them, and without its listening connection the cache keeps nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from backend_svc.jobs import list_jobs
from backend_svc.position_cache import PositionCache
from tests.backend import test_queue_depth
from tests.support.deep_queue import full_order_positions
from tests.support.poll import until

conn = test_queue_depth.conn  # the fixture: a migrated database of the test's own
mixed_queue = test_queue_depth.mixed_queue

DEADLINE_S = 10.0


@pytest.fixture
async def cache(conn: asyncpg.Connection, pg_dsn: str) -> AsyncIterator[PositionCache]:
    positions = PositionCache(pg_dsn)
    await positions.start()
    try:
        await asyncio.wait_for(positions.listening.wait(), DEADLINE_S)
        yield positions
    finally:
        await positions.stop()


async def test_kept_positions_are_dropped_by_the_queues_notify(
    conn: asyncpg.Connection, cache: PositionCache
) -> None:
    await mixed_queue(conn, 11)
    expected = await full_order_positions(conn)
    ids = list(expected)
    assert await cache.positions(conn, ids) == expected
    # a change the triggers do not announce (priority): the kept answer is still served,
    # which shows it is kept, and that only the NOTIFY lets it go
    due = {r["id"] for r in await conn.fetch(
        "SELECT id FROM jobs WHERE state = 'queued' AND coalesce(not_before <= now(), true)")}
    last = max(due, key=expected.__getitem__)  # goes first at priority 100
    await conn.execute("UPDATE jobs SET priority = 100 WHERE id = $1", last)
    assert await cache.positions(conn, ids) == expected
    changed = await full_order_positions(conn)
    assert changed != expected
    before = cache.generation
    await conn.execute("SELECT pg_notify('modelport_jobs', '')")
    await until(lambda: _past(cache, before))
    assert await cache.positions(conn, ids) == changed
    # a state change notifies by itself (the jobs table's trigger)
    await conn.execute("UPDATE jobs SET state = 'running', worker = 'w1' WHERE id = $1",
                       ids[0])
    after_start = await full_order_positions(conn)
    await until(lambda: _same(cache, conn, ids, after_start))
    assert ids[0] not in await cache.positions(conn, ids)


async def test_a_waiting_job_falling_due_drops_kept_positions(
    conn: asyncpg.Connection, cache: PositionCache
) -> None:
    await mixed_queue(conn, 12, jobs=120)
    soon = await conn.fetchval("SELECT id FROM jobs WHERE state = 'queued' "
                               "AND not_before IS NULL ORDER BY created_at LIMIT 1")
    await conn.execute("UPDATE jobs SET not_before = now() + interval '1 second' "
                       "WHERE id = $1", soon)  # no NOTIFY: not a change of state
    before = await full_order_positions(conn)
    ids = list(before)
    generation = cache.generation
    assert await cache.positions(conn, ids) == before
    await until(lambda: _due(conn, soon))
    now_due = await full_order_positions(conn)
    assert now_due != before
    assert await cache.positions(conn, ids) == now_due
    assert cache.generation > generation


async def test_without_its_connection_nothing_is_kept(
    conn: asyncpg.Connection, pg_dsn: str
) -> None:
    await mixed_queue(conn, 13, jobs=120)
    positions = PositionCache(pg_dsn)  # never started: it does not listen
    expected = await full_order_positions(conn)
    assert await positions.positions(conn, list(expected)) == expected
    last = max(expected, key=expected.__getitem__)
    await conn.execute("UPDATE jobs SET not_before = NULL, priority = 100 WHERE id = $1", last)
    changed = await full_order_positions(conn)
    assert changed != expected
    assert await positions.positions(conn, list(expected)) == changed


async def test_a_page_of_the_jobs_list_reads_through_the_cache(
    conn: asyncpg.Connection, cache: PositionCache
) -> None:
    await mixed_queue(conn, 14)
    expected = await full_order_positions(conn)
    for _ in range(2):  # computed, then kept
        page, total = await list_jobs(conn, user_id=None, state="queued", app=None, limit=50,
                                      offset=50, positions=cache.positions)
        assert total == len(expected)
        assert {j.id: j.queue_position for j in page} == {
            j.id: expected[uuid.UUID(j.id)] for j in page}


async def _past(cache: PositionCache, generation: int) -> bool:
    return cache.generation > generation


async def _same(cache: PositionCache, conn: asyncpg.Connection, ids: list[uuid.UUID],
                expected: dict[uuid.UUID, int]) -> bool:
    return await cache.positions(conn, ids) == expected


async def _due(conn: asyncpg.Connection, job_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT not_before <= now() FROM jobs WHERE id = $1",
                                    job_id))
