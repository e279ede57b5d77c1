"""One scheduling pass, and the duty that runs it: queued jobs handed to solve workers.

A pass reads the due queued jobs, the running counts and the workers' capacity, asks
:func:`backend_svc.scheduler.plan` what to start, marks those jobs ``scheduled`` (attempt+1,
worker, lease) and commits; only then it publishes each :class:`RunJob` to its worker's queue
with a confirm. A publish that fails is only logged: the lease expires and the reaper queues
the job again.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import asyncpg
import structlog

from backend_svc import workers
from backend_svc.changes import record_change
from backend_svc.duty import ExclusiveDuty
from backend_svc.jobs import ACTIVE_STATES, JOB_SELECT, candidate, job_event, job_from_row
from backend_svc.leases import REAPER_LOCK, reap
from backend_svc.registry import satisfies, version_key
from backend_svc.scheduler import Assignment, Limits, plan
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


async def schedule(
    pool: asyncpg.Pool, *, limits: Limits, lease_ttl_s: float, default_memory_mb: int
) -> list[tuple[str, RunJob]]:
    """Run one pass and commit it; return (worker, RunJob) of every attempt scheduled."""
    async with pool.acquire() as conn, conn.transaction():
        chosen = await _plan(conn, limits, lease_ttl_s)
        if not chosen:
            return []
        await conn.execute(
            "UPDATE jobs j SET state = 'scheduled', attempt = j.attempt + 1, worker = a.worker, "
            "lease_expires_at = now() + make_interval(secs => $3), reason = NULL, "
            "progress = NULL, progress_message = NULL, progress_event_at = NULL, "
            "updated_at = now() FROM unnest($1::uuid[], $2::text[]) AS a(id, worker) "
            "WHERE j.id = a.id AND j.state = 'queued'",
            [a.job.id for a in chosen], [a.worker for a in chosen], lease_ttl_s,
        )
        rows = await conn.fetch(_DETAILS, [a.job.id for a in chosen])
        runtimes = await conn.fetch(
            "SELECT version, manifest, s3_key, sha256, size_bytes FROM runtimes")
        runs = [(r["worker"], await _run_job(conn, r, runtimes, lease_ttl_s, default_memory_mb))
                for r in rows]
    return [(worker, run) for worker, run in runs if run is not None]


async def _plan(
    conn: asyncpg.Connection, limits: Limits, fresh_s: float
) -> list[Assignment]:
    queued = await conn.fetch(
        "SELECT j.id, j.user_id, v.app_id, j.priority, j.created_at FROM jobs j "
        "JOIN app_versions v ON v.id = j.app_version_id "
        "WHERE j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= now())"
    )
    if not queued:
        return []
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
    return plan([candidate(r) for r in queued], running_by_user=by_user,
                running_by_app=by_app, free_slots=free, limits=limits)


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
                              default_memory_mb=s.default_memory_mb)
        if runs:
            log.info("jobs_scheduled", count=len(runs))
        return await publish_runs(self._commands, runs)

    async def reap(self) -> int:
        return await reap(self._pool)
