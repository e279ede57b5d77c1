"""A deep job queue written straight into a migrated database, for tests and benches.

``seed_queue`` adds users, one runtime, apps with one (active) version each, and queued jobs
spread over them with distinct ``created_at`` (one second apart, oldest first).
``full_order_positions`` is the plain way to number the queue (sort it all, as the scheduler
orders it), kept as the oracle the index-backed :func:`backend_svc.queue.queue_positions` is
checked against.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from backend_svc.jobs import candidate
from backend_svc.scheduler import order

SHA = "ab" * 32


@dataclass(frozen=True)
class SeededQueue:
    users: list[uuid.UUID]
    apps: list[uuid.UUID]
    versions: list[uuid.UUID]


async def seed_queue(
    conn: asyncpg.Connection, *, jobs: int, users: int, apps: int = 1,
    priorities: tuple[int, ...] = (0,), user_ids: list[uuid.UUID] | None = None,
    rng: random.Random | None = None,
) -> SeededQueue:
    """Queue ``jobs`` jobs of ``users`` users (new ones, or ``user_ids``) over ``apps`` apps;
    with ``rng`` the user, app and priority of each job are drawn at random, else round-robin.
    """
    ids = user_ids or [uuid.uuid4() for _ in range(users)]
    if user_ids is None:
        await conn.executemany(
            "INSERT INTO users (id, username, password_hash) VALUES ($1, $2, 'x')",
            [(u, f"q{u.hex[:12]}") for u in ids])
    await conn.execute(
        "INSERT INTO runtimes (version, manifest, s3_key, sha256, size_bytes, signer_key_id) "
        "VALUES ('1.0.0', '{}', 'r', $1, 1, 'k') ON CONFLICT DO NOTHING", SHA)
    app_ids, version_ids = [], []
    for _ in range(apps):
        app_id = await conn.fetchval("INSERT INTO apps (name) VALUES ($1) RETURNING id",
                                     f"q{uuid.uuid4().hex[:10]}")
        version_ids.append(await conn.fetchval(
            "INSERT INTO app_versions (app_id, version, runtime_requirement, manifest, s3_key, "
            "sha256, size_bytes) VALUES ($1, '1.0.0', '>=1.0', '{}', 'a', $2, 1) RETURNING id",
            app_id, SHA))
        await conn.execute("UPDATE apps SET active_version_id = $1 WHERE id = $2",
                           version_ids[-1], app_id)
        app_ids.append(app_id)
    pick = rng.choice if rng else None
    rows = [(ids[i % len(ids)] if pick is None else pick(ids),
             version_ids[i % apps] if pick is None else pick(version_ids),
             priorities[i % len(priorities)] if pick is None else pick(priorities),
             float(jobs - i)) for i in range(jobs)]
    await conn.executemany(
        "INSERT INTO jobs (user_id, app_version_id, procedure, priority, created_at) "
        "VALUES ($1, $2, 'solve', $3, now() - make_interval(secs => $4))", rows)
    return SeededQueue(ids, app_ids, version_ids)


async def full_order_positions(conn: asyncpg.Connection) -> dict[Any, int]:
    """Position of every queued job by sorting the whole queue (the oracle)."""
    rows = await conn.fetch(
        "SELECT j.id, j.user_id, v.app_id, j.priority, j.created_at, j.not_before, "
        "coalesce(j.not_before <= now(), true) AS due FROM jobs j "
        "JOIN app_versions v ON v.id = j.app_version_id WHERE j.state = 'queued'")
    running = {r["user_id"]: r["n"] for r in await conn.fetch(
        "SELECT user_id, count(*) AS n FROM jobs WHERE state IN ('scheduled', 'running') "
        "GROUP BY 1")}
    due = order([candidate(r) for r in rows if r["due"]], running)
    later = sorted((r for r in rows if not r["due"]), key=lambda r: (r["not_before"], r["id"]))
    ids = [c.id for c in due] + [r["id"] for r in later]
    return {job_id: n for n, job_id in enumerate(ids, start=1)}
