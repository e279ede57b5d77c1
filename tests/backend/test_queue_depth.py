"""Deep queues: positions counted by index and the scheduler's bounded window give the same
answers as sorting the whole queue, and the scheduler reads only a window of it."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Hashable

import asyncpg
import pytest

from backend_svc import db
from backend_svc.dispatch import plan_pass
from backend_svc.jobs import candidate, find_job, list_jobs
from backend_svc.migrations import apply_migrations, load_migrations
from backend_svc.queue import queue_positions
from backend_svc.scheduler import Limits, plan
from tests.support.deep_queue import SeededQueue, full_order_positions, seed_queue

FRESH_S = 3600.0


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await db.connect(pg_dsn)
    try:
        await apply_migrations(connection, load_migrations())
        yield connection
    finally:
        await connection.close()


async def mixed_queue(conn: asyncpg.Connection, seed: int, jobs: int = 300) -> SeededQueue:
    """Jobs of 6 users over 3 apps at four levels; some running, some waiting, some due."""
    rng = random.Random(seed)
    seeded = await seed_queue(conn, jobs=jobs, users=6, apps=3, priorities=(-1, 0, 0, 0, 2, 5),
                              rng=rng)
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM jobs ORDER BY created_at")]
    picked = rng.sample(ids, 60)
    await conn.execute("UPDATE jobs SET state = 'running', worker = 'w1' WHERE id = ANY($1)",
                       picked[:15])
    await conn.execute("UPDATE jobs SET not_before = now() + make_interval(secs => "
                       "(random() * 1000)::int + 60) WHERE id = ANY($1)", picked[15:35])
    await conn.execute("UPDATE jobs SET not_before = now() - interval '1 hour' "
                       "WHERE id = ANY($1)", picked[35:])
    return seeded


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_positions_match_sorting_the_whole_queue(
    conn: asyncpg.Connection, seed: int
) -> None:
    await mixed_queue(conn, seed)
    expected = await full_order_positions(conn)
    assert len(expected) == 285
    assert await queue_positions(conn, list(expected)) == expected
    one = random.Random(seed).choice(list(expected))
    assert await queue_positions(conn, [one]) == {one: expected[one]}


async def test_positions_leave_out_what_is_not_queued(conn: asyncpg.Connection) -> None:
    await mixed_queue(conn, 7, jobs=80)
    running = await conn.fetchval("SELECT id FROM jobs WHERE state = 'running' LIMIT 1")
    queued = await conn.fetchval("SELECT id FROM jobs WHERE state = 'queued' LIMIT 1")
    positions = await queue_positions(conn, [running, uuid.uuid4(), queued])
    assert list(positions) == [queued]
    assert await queue_positions(conn, []) == {}


async def test_job_reads_and_pages_carry_the_same_positions(conn: asyncpg.Connection) -> None:
    await mixed_queue(conn, 5)
    expected = await full_order_positions(conn)
    page, total = await list_jobs(conn, user_id=None, state="queued", app=None, limit=50,
                                  offset=100)
    assert total == len(expected) and len(page) == 50
    assert {j.id: j.queue_position for j in page} == {
        j.id: expected[uuid.UUID(j.id)] for j in page}
    newest = page[0]
    found = await find_job(conn, newest.id)
    assert found.job.queue_position == newest.queue_position


async def _whole_queue_plan(conn: asyncpg.Connection, limits: Limits) -> list[tuple[str, str]]:
    """The plan over every due queued job (what the scheduler did before windows)."""
    queued = await conn.fetch(
        "SELECT j.id, j.user_id, v.app_id, j.priority, j.created_at FROM jobs j "
        "JOIN app_versions v ON v.id = j.app_version_id WHERE j.state = 'queued' "
        "AND (j.not_before IS NULL OR j.not_before <= now())")
    active = await conn.fetch(
        "SELECT j.user_id, v.app_id FROM jobs j JOIN app_versions v ON v.id = j.app_version_id "
        "WHERE j.state IN ('scheduled', 'running')")
    by_user: dict[Hashable, int] = {}
    by_app: dict[Hashable, int] = {}
    for r in active:
        by_user[r["user_id"]] = by_user.get(r["user_id"], 0) + 1
        by_app[r["app_id"]] = by_app.get(r["app_id"], 0) + 1
    free = {r["name"]: r["slots_free"] for r in await conn.fetch("SELECT * FROM workers")}
    chosen = plan([candidate(r) for r in queued], running_by_user=by_user,
                  running_by_app=by_app, free_slots=free, limits=limits)
    return [(str(a.job.id), a.worker) for a in chosen]


@pytest.mark.parametrize(("seed", "slots", "per_user", "per_app"), [
    (1, 10, 100, 100), (2, 40, 100, 12), (3, 25, 4, 100), (4, 120, 100, 30), (5, 3, 1, 8),
])
async def test_window_plans_as_the_whole_queue(
    conn: asyncpg.Connection, seed: int, slots: int, per_user: int, per_app: int
) -> None:
    await mixed_queue(conn, seed)
    await conn.execute("INSERT INTO workers (name, slots_total, slots_free) VALUES "
                       "('w1', $1, $2), ('w2', $1, $2)", slots + 15, slots // 2 + 1)
    limits = Limits(per_user=per_user, per_app=per_app)
    chosen, _ = await plan_pass(conn, limits, FRESH_S)
    expected = await _whole_queue_plan(conn, limits)
    assert expected  # the case schedules something
    assert [(str(a.job.id), a.worker) for a in chosen] == expected


async def test_a_user_ahead_by_priority_grows_their_window(conn: asyncpg.Connection) -> None:
    """One user's 50 urgent jobs outrank everyone: the window must reach past its first size."""
    seeded = await seed_queue(conn, jobs=2000, users=20)
    await seed_queue(conn, jobs=50, users=1, user_ids=seeded.users[:1], priorities=(9,))
    await conn.execute("INSERT INTO workers (name, slots_total, slots_free) "
                       "VALUES ('w1', 30, 30)")
    limits = Limits(per_user=100, per_app=100)
    chosen, read = await plan_pass(conn, limits, FRESH_S)
    assert [(str(a.job.id), a.worker) for a in chosen] == await _whole_queue_plan(conn, limits)
    urgent = {r["id"] for r in await conn.fetch("SELECT id FROM jobs WHERE priority = 9")}
    assert len(chosen) == 30 and {a.job.id for a in chosen} <= urgent
    assert read < 400  # far from the 2050 queued


async def test_scheduler_reads_a_window_not_the_queue(conn: asyncpg.Connection) -> None:
    await seed_queue(conn, jobs=5000, users=50, apps=2)
    await conn.execute("INSERT INTO workers (name, slots_total, slots_free) "
                       "VALUES ('w1', 20, 20)")
    chosen, read = await plan_pass(conn, Limits(per_user=3, per_app=100), FRESH_S)
    assert len(chosen) == 20
    assert read <= 50 * 2  # two per user: one more than a fair share of the 20 slots


async def test_no_free_slot_reads_no_queue(conn: asyncpg.Connection) -> None:
    await seed_queue(conn, jobs=100, users=5)
    await conn.execute("INSERT INTO workers (name, slots_total, slots_free) VALUES ('w1', 4, 0)")
    assert await plan_pass(conn, Limits(per_user=3, per_app=100), FRESH_S) == ([], 0)
