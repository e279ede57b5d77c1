"""One scheduling pass, and the duty that runs it: queued jobs handed to solve workers.

A pass reads the running counts, the workers' capacity and a bounded window of each user's due
queued jobs (never the whole queue), asks :func:`backend_svc.scheduler.plan_window` what to
start, marks those jobs ``scheduled`` (attempt+1, worker, lease) and commits; only then it
publishes each :class:`RunJob` to its worker's queue with a confirm. A publish that fails is
only logged: the lease expires and the reaper queues the job again.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import Any

import asyncpg
import structlog

from backend_svc import workers
from backend_svc.changes import record_change
from backend_svc.duty import ExclusiveDuty
from backend_svc.jobs import ACTIVE_STATES, JOB_SELECT, candidate, job_event, job_from_row
from backend_svc.leases import REAPER_LOCK, reap
from backend_svc.quotas import running_caps
from backend_svc.registry import satisfies, version_key
from backend_svc.scheduler import Assignment, Candidate, Limits, plan_window
from backend_svc.settings import BackendSettings
from common.amqp.publisher import Publisher
from common.contracts.base import Principal
from common.contracts.jobs import BlobRef, JobEvent, RunJob

log = structlog.get_logger(__name__)
SCHEDULER_LOCK = 0x6D6F64656C03
NOTIFY_CHANNEL = "modelport_jobs"

_DETAILS = (
    "SELECT j.id, j.attempt, j.worker, j.procedure, j.options, j.time_limit_s, j.memory_mb, "
    "a.name AS app, v.version, v.runtime_requirement, v.s3_key, v.sha256, v.size_bytes, "
    "c.s3_key AS case_key, c.sha256 AS case_sha, c.size_bytes AS case_size "
    "FROM jobs j JOIN app_versions v ON v.id = j.app_version_id JOIN apps a ON a.id = v.app_id "
    "LEFT JOIN cases c ON c.id = j.input_case_id WHERE j.id = ANY($1::uuid[])"
)
# Users with queued jobs, one index probe each (a loose scan of jobs_queued_by_user).
_QUEUED_USERS = (
    "WITH RECURSIVE u AS ((SELECT user_id FROM jobs WHERE state = 'queued' "
    "ORDER BY user_id LIMIT 1) UNION ALL SELECT (SELECT j.user_id FROM jobs j "
    "WHERE j.state = 'queued' AND j.user_id > u.user_id ORDER BY j.user_id LIMIT 1) "
    "FROM u WHERE u.user_id IS NOT NULL) SELECT user_id FROM u WHERE user_id IS NOT NULL"
)
# The first $2 due queued jobs of each user $1, in the user's order.
_WINDOW = (
    "SELECT w.* FROM unnest($1::uuid[], $2::int[]) AS u(user_id, n) CROSS JOIN LATERAL ("
    "SELECT j.id, j.user_id, v.app_id, j.priority, j.created_at FROM jobs j "
    "JOIN app_versions v ON v.id = j.app_version_id WHERE j.state = 'queued' "
    "AND j.user_id = u.user_id AND (j.not_before IS NULL OR j.not_before <= now()) "
    "ORDER BY j.priority DESC, j.created_at LIMIT u.n) w"
)


async def schedule(
    pool: asyncpg.Pool, *, limits: Limits, lease_ttl_s: float, default_memory_mb: int,
    cpus: float = 1.0,
) -> list[tuple[str, RunJob]]:
    """Run one pass and commit it; return (worker, RunJob) of every attempt scheduled."""
    async with pool.acquire() as conn, conn.transaction():
        chosen, _ = await plan_pass(conn, limits, lease_ttl_s)
        if not chosen:
            return []
        await conn.execute(
            "UPDATE jobs j SET state = 'scheduled', attempt = j.attempt + 1, worker = a.worker, "
            "lease_expires_at = now() + make_interval(secs => $3), reason = NULL, "
            "progress = NULL, progress_message = NULL, progress_event_at = NULL, cpus = $4, "
            "updated_at = now() FROM unnest($1::uuid[], $2::text[]) AS a(id, worker) "
            "WHERE j.id = a.id AND j.state = 'queued'",
            [a.job.id for a in chosen], [a.worker for a in chosen], lease_ttl_s, cpus,
        )
        rows = await conn.fetch(_DETAILS, [a.job.id for a in chosen])
        runtimes = await conn.fetch(
            "SELECT version, manifest, s3_key, sha256, size_bytes FROM runtimes")
        runs = [(r["worker"], await _run_job(conn, r, runtimes, lease_ttl_s, default_memory_mb))
                for r in rows]
    return [(worker, run) for worker, run in runs if run is not None]


async def plan_pass(
    conn: asyncpg.Connection, limits: Limits, fresh_s: float
) -> tuple[list[Assignment], int]:
    """What to start now, over bounded windows of the queue; and how many queued jobs it
    read to decide (the sum of the final windows)."""
    active = await conn.fetch(
        "SELECT j.user_id, v.app_id, j.worker FROM jobs j "
        "JOIN app_versions v ON v.id = j.app_version_id WHERE j.state = ANY($1::text[])",
        list(ACTIVE_STATES),
    )
    by_user: dict[Hashable, int] = {}
    by_app: dict[Hashable, int] = {}
    by_worker: dict[str, int] = {}
    for r in active:
        by_user[r["user_id"]] = by_user.get(r["user_id"], 0) + 1
        by_app[r["app_id"]] = by_app.get(r["app_id"], 0) + 1
        by_worker[r["worker"]] = by_worker.get(r["worker"], 0) + 1
    free = await _free_slots(conn, by_worker, fresh_s)
    capacity = sum(n for n in free.values() if n > 0)
    users = [r["user_id"] for r in await conn.fetch(_QUEUED_USERS)] if capacity else []
    if not users:
        return [], 0
    limits = replace(limits, user_caps=await running_caps(conn, users, limits.per_user))
    window = QueueWindow(users, first=min(capacity + 1, max(2, -(-capacity // len(users)) + 1)))
    while True:
        await window.fill(conn)
        result = plan_window(window.candidates(), running_by_user=by_user,
                             running_by_app=by_app, free_slots=free, limits=limits)
        if not window.grow(result.drained):
            return result.chosen, window.read


class QueueWindow:
    """The first few due queued jobs of each user, in the user's scheduling order; a user's
    window grows (x4) when a pass used it all up and more may be queued behind it."""

    def __init__(self, users: list[Hashable], *, first: int):
        self._size = dict.fromkeys(users, first)
        self._rows: dict[Hashable, list[Candidate]] = {}
        self._stale = list(users)

    async def fill(self, conn: asyncpg.Connection) -> None:
        """Read the windows of the users added or grown since the last fill."""
        if not self._stale:
            return
        rows = await conn.fetch(_WINDOW, self._stale, [self._size[u] for u in self._stale])
        for user in self._stale:
            self._rows[user] = []
        for r in rows:
            self._rows[r["user_id"]].append(candidate(r))
        self._stale = []

    @property
    def read(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def candidates(self) -> list[Candidate]:
        return [c for rows in self._rows.values() for c in rows]

    def grow(self, drained: set[Hashable]) -> bool:
        """Grow the windows that were cut short and used up; False when none was."""
        self._stale = [u for u in drained if len(self._rows[u]) == self._size[u]]
        for user in self._stale:
            self._size[user] *= 4
        return bool(self._stale)


async def _free_slots(
    conn: asyncpg.Connection, assigned: dict[str, int], fresh_s: float
) -> dict[str, int]:
    """Free slots of each worker that reported within a lease: what it reported, less the
    attempts assigned to it since (never more than its total minus what it holds)."""
    rows = await conn.fetch(
        "SELECT name, slots_total, slots_free FROM workers "
        "WHERE last_report_at > now() - make_interval(secs => $1)", fresh_s,
    )
    return {r["name"]: min(r["slots_free"], r["slots_total"] - assigned.get(r["name"], 0))
            for r in rows}


def best_runtime(requirement: str, runtimes: list[asyncpg.Record]) -> asyncpg.Record | None:
    """The highest registered runtime meeting ``requirement``, or None."""
    fitting = [r for r in runtimes if satisfies(requirement, r["version"])]
    return max(fitting, key=lambda r: version_key(r["version"]), default=None)


async def _run_job(
    conn: asyncpg.Connection, row: asyncpg.Record, runtimes: list[asyncpg.Record],
    lease_ttl_s: float, default_memory_mb: int,
) -> RunJob | None:
    runtime = best_runtime(row["runtime_requirement"], runtimes)
    if runtime is None:
        await _fail_no_runtime(conn, row)
        return None
    case = None
    if row["case_key"] is not None:
        case = BlobRef(s3_key=row["case_key"], sha256=row["case_sha"],
                       size_bytes=row["case_size"])
    manifest: dict[str, Any] = runtime["manifest"] or {}
    return RunJob(
        job_id=str(row["id"]), attempt=row["attempt"], app=row["app"],
        app_version=row["version"],
        app_package=BlobRef(s3_key=row["s3_key"], sha256=row["sha256"],
                            size_bytes=row["size_bytes"]),
        runtime_version=runtime["version"],
        runtime_package=BlobRef(s3_key=runtime["s3_key"], sha256=runtime["sha256"],
                                size_bytes=runtime["size_bytes"]),
        runtime_image_digest=str(manifest.get("image_digest", "")),
        procedure=row["procedure"], input_case=case, options=row["options"] or {},
        time_limit_s=row["time_limit_s"], memory_mb=row["memory_mb"] or default_memory_mb,
        lease_ttl_s=lease_ttl_s,
    )


async def _fail_no_runtime(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    await conn.execute(
        "UPDATE jobs SET state = 'failed', reason = 'no_runtime', finished_at = now(), "
        "lease_expires_at = NULL, updated_at = now() WHERE id = $1", row["id"],
    )
    job = job_from_row(await conn.fetchrow(f"{JOB_SELECT} WHERE j.id = $1", row["id"]))
    await record_change(conn, Principal.SYSTEM, "job.failed", subject=job.id,
                        event_type=JobEvent.FAILED, event=job_event(job))


async def publish_runs(commands: Publisher, runs: list[tuple[str, RunJob]]) -> int:
    """Send each RunJob to its worker; return how many the broker confirmed."""
    sent = 0
    for worker, run in runs:
        try:
            await workers.send(commands, worker, run)
            sent += 1
        except Exception as exc:  # the lease expires and the reaper re-queues the job
            log.warning("run_job_publish_failed", job_id=run.job_id, attempt=run.attempt,
                        error=repr(exc))
    return sent


class JobDuties:
    """The scheduler and the lease reaper, each an exclusive duty of one replica."""

    def __init__(
        self, pool: asyncpg.Pool, dsn: str, commands: Publisher, settings: BackendSettings
    ):
        self._pool = pool
        self._commands = commands
        self._settings = settings
        self.limits = Limits(per_user=settings.max_running_per_user,
                             per_app=settings.max_running_per_app)
        self.scheduler = ExclusiveDuty("scheduler", dsn, SCHEDULER_LOCK, self.tick,
                                       interval_s=settings.scheduler_interval_s,
                                       channel=NOTIFY_CHANNEL)
        self.reaper = ExclusiveDuty("reaper", dsn, REAPER_LOCK, self.reap,
                                    interval_s=min(settings.scheduler_interval_s,
                                                   settings.lease_ttl_s / 2))

    async def start(self) -> None:
        await self.scheduler.start()
        await self.reaper.start()

    async def stop(self) -> None:
        await self.reaper.stop()
        await self.scheduler.stop()

    def wake(self) -> None:
        """Schedule soon (a job was queued or finished, a worker freed a slot)."""
        self.scheduler.wake()

    async def tick(self) -> int:
        """One scheduling pass and its publishes; return how many jobs were sent."""
        s = self._settings
        runs = await schedule(self._pool, limits=self.limits, lease_ttl_s=s.lease_ttl_s,
                              default_memory_mb=s.default_memory_mb, cpus=s.job_cpus)
        if runs:
            log.info("jobs_scheduled", count=len(runs))
        return await publish_runs(self._commands, runs)

    async def reap(self) -> int:
        return await reap(self._pool, restart_spacing_s=self._settings.restart_spacing_s)
