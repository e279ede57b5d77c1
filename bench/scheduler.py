"""The scheduler's decision time per job with 10,000 jobs queued, on a fresh database.

Each tick is one real scheduling pass (:func:`backend_svc.dispatch.schedule`: read a window of
each user's queue, plan, mark the chosen jobs scheduled, build their RunJob, commit), timed end
to end and divided by the jobs it scheduled; between ticks the scheduled jobs are finished
(untimed) so the next tick finds free slots again. Publishing RunJob to the broker is not
included. Also times the pure ordering (:func:`backend_svc.scheduler.plan`) over the whole
queue alone. Prints figures; the last line is ``scheduler: per_job_p50_ms=… …``.

    .venv/bin/python bench/scheduler.py [--jobs 10000] [--users 100] [--slots 100] [--ticks 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend_svc import db  # noqa: E402
from backend_svc.dispatch import schedule  # noqa: E402
from backend_svc.jobs import candidate  # noqa: E402
from backend_svc.migrations import apply_migrations, load_migrations  # noqa: E402
from backend_svc.scheduler import Limits, plan  # noqa: E402
from tests.support import infra  # noqa: E402

SHA = "ab" * 32


async def seed(conn: asyncpg.Connection, jobs: int, users: int, slots: int) -> None:
    user_ids = [uuid.uuid4() for _ in range(users)]
    await conn.executemany("INSERT INTO users (id, username, password_hash) VALUES ($1, $2, 'x')",
                           [(u, f"user{i}") for i, u in enumerate(user_ids)])
    await conn.execute("INSERT INTO runtimes (version, manifest, s3_key, sha256, size_bytes, "
                       "signer_key_id) VALUES ('1.0.0', '{}', 'r', $1, 1, 'k')", SHA)
    app_id = await conn.fetchval("INSERT INTO apps (name) VALUES ('bench') RETURNING id")
    version_id = await conn.fetchval(
        "INSERT INTO app_versions (app_id, version, runtime_requirement, manifest, s3_key, "
        "sha256, size_bytes) VALUES ($1, '1.0.0', '>=1.0', '{}', 'a', $2, 1) RETURNING id",
        app_id, SHA)
    await conn.execute(
        "INSERT INTO jobs (user_id, app_version_id, procedure, priority, created_at) "
        "SELECT ($1::uuid[])[1 + i % $3], $2, 'solve', (i % 3) - 1, "
        "now() - make_interval(secs => $4 - i) FROM generate_series(1, $4) AS i",
        user_ids, version_id, users, jobs)
    await conn.execute("INSERT INTO workers (name, slots_total, slots_free) VALUES ('w', $1, $1)",
                       slots)


async def finish_scheduled(conn: asyncpg.Connection) -> None:
    await conn.execute("UPDATE jobs SET state = 'succeeded', finished_at = now() "
                       "WHERE state = 'scheduled'")
    await conn.execute("UPDATE workers SET last_report_at = now()")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def pure_plan(conn: asyncpg.Connection, slots: int, limits: Limits) -> float:
    rows = await conn.fetch("SELECT j.id, j.user_id, v.app_id, j.priority, j.created_at "
                            "FROM jobs j JOIN app_versions v ON v.id = j.app_version_id "
                            "WHERE j.state = 'queued'")
    candidates = [candidate(r) for r in rows]
    began = time.perf_counter()
    plan(candidates, running_by_user={}, running_by_app={}, free_slots={"w": slots},
         limits=limits)
    return time.perf_counter() - began


async def main(args: argparse.Namespace) -> None:
    name = await infra.create_database()
    dsn = infra.dsn_for(name)
    pool = await db.create_pool(dsn, max_size=4, deadline_s=10)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, load_migrations())
            await seed(conn, args.jobs, args.users, args.slots)
        limits = Limits(per_user=args.slots, per_app=args.slots * 10)
        per_job, per_tick = [], []
        for _ in range(args.ticks):
            began = time.perf_counter()
            runs = await schedule(pool, limits=limits, lease_ttl_s=3600, default_memory_mb=512)
            elapsed = time.perf_counter() - began
            per_tick.append(elapsed)
            per_job.append(elapsed / max(1, len(runs)))
            async with pool.acquire() as conn:
                await finish_scheduled(conn)
        async with pool.acquire() as conn:
            pure = await pure_plan(conn, args.slots, limits)
            left = await conn.fetchval("SELECT count(*) FROM jobs WHERE state = 'queued'")
    finally:
        await pool.close()
        await infra.drop_database(name)
    print(f"queued at start: {args.jobs} jobs of {args.users} users; {args.slots} slots/tick; "
          f"{args.ticks} ticks; {left} still queued at the end")
    print(f"decision time per job: median {statistics.median(per_job) * 1e3:.3f} ms, "
          f"p95 {pct(per_job, 0.95) * 1e3:.3f} ms")
    print(f"tick (one pass, {args.slots} jobs): median {statistics.median(per_tick) * 1e3:.1f} "
          f"ms, p95 {pct(per_tick, 0.95) * 1e3:.1f} ms")
    print(f"pure ordering (plan) over {left} queued jobs: {pure * 1e3:.1f} ms")
    print(f"scheduler: per_job_p50_ms={statistics.median(per_job) * 1e3:.3f} "
          f"per_job_p95_ms={pct(per_job, 0.95) * 1e3:.3f} "
          f"tick_p50_ms={statistics.median(per_tick) * 1e3:.1f} queued={args.jobs}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--slots", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
