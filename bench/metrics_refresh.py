"""What a scrape of backend's ``/metrics`` costs when the database is big: the refresh of the
gauges read from PostgreSQL (jobs and sessions by state, outbox lag) with N jobs, a share of
them live (queued, scheduled, running, lost) and the rest finished, and a backlog of
unpublished outbox rows, on a fresh database. Times the full refresh (every job state, done at
most once a minute) and the usual one (queued, scheduled, running), each with the exposition.
Prints figures only.

    .venv/bin/python bench/metrics_refresh.py [--jobs 100000] [--live 0.01] [--outbox 10000]
                                              [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend_svc import db  # noqa: E402
from backend_svc.metrics import BackendGauges  # noqa: E402
from backend_svc.migrations import apply_migrations, load_migrations  # noqa: E402
from common.metrics import ServiceMetrics  # noqa: E402
from tests.support import infra  # noqa: E402

SHA = "ab" * 32
LIVE = ["queued", "scheduled", "running", "lost"]
FINISHED = ["succeeded", "failed", "cancelled"]


async def seed(conn: asyncpg.Connection, jobs: int, live: float, outbox: int) -> None:
    user_id = await conn.fetchval(
        "INSERT INTO users (username, password_hash) VALUES ('bench', 'x') RETURNING id")
    await conn.execute("INSERT INTO runtimes (version, manifest, s3_key, sha256, size_bytes, "
                       "signer_key_id) VALUES ('1.0.0', '{}', 'r', $1, 1, 'k')", SHA)
    app_id = await conn.fetchval("INSERT INTO apps (name) VALUES ('bench') RETURNING id")
    version_id = await conn.fetchval(
        "INSERT INTO app_versions (app_id, version, runtime_requirement, manifest, s3_key, "
        "sha256, size_bytes) VALUES ($1, '1.0.0', '>=1.0', '{}', 'a', $2, 1) RETURNING id",
        app_id, SHA)
    await conn.execute(
        "INSERT INTO jobs (user_id, app_version_id, procedure, state) "
        "SELECT $1, $2, 'solve', CASE WHEN i <= $5 THEN ($3::text[])[1 + i % 4] "
        "ELSE ($4::text[])[1 + i % 3] END FROM generate_series(1, $6) AS i",
        user_id, version_id, LIVE, FINISHED, int(jobs * live), jobs)
    await conn.execute(
        "INSERT INTO outbox (id, type, source, time, data) SELECT gen_random_uuid(), 't', 's', "
        "now() - make_interval(secs => i), '{}'::jsonb FROM generate_series(1, $1) AS i", outbox)
    await conn.execute("ANALYZE")


def timed_ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, max {max(values):.1f} ms"


async def main(args: argparse.Namespace) -> None:
    name = await infra.create_database()
    dsn = infra.dsn_for(name)
    try:
        pool = await db.create_pool(dsn, max_size=2, deadline_s=10)
        async with pool.acquire() as conn:
            await apply_migrations(conn, load_migrations())
            await seed(conn, args.jobs, args.live, args.outbox)
        full = await scrapes(pool, args.runs, full_every_s=0)
        usual = await scrapes(pool, args.runs, full_every_s=float("inf"))
        await pool.close()
    finally:
        await infra.drop_database(name)
    print(f"jobs {args.jobs} ({args.live:.0%} live), unpublished outbox rows {args.outbox}, "
          f"{args.runs} scrapes each")
    print(f"full refresh (every state) + exposition: {timed_ms(full)}")
    print(f"usual refresh (indexed states) + exposition: {timed_ms(usual)}")
    print(f"metrics_refresh: jobs={args.jobs} live={args.live} outbox={args.outbox} "
          f"full_ms_p50={statistics.median(full):.1f} "
          f"usual_ms_p50={statistics.median(usual):.1f}")


async def scrapes(pool: asyncpg.Pool, runs: int, *, full_every_s: float) -> list[float]:
    """Milliseconds of ``runs`` uncached scrapes (the first, always full, not counted)."""
    metrics = ServiceMetrics("backend", cache_s=0)
    BackendGauges(metrics, pool, full_every_s=full_every_s)
    await metrics.render()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await metrics.render()
        times.append((time.perf_counter() - began) * 1000)
    return times


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--live", type=float, default=0.01)
    parser.add_argument("--outbox", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
