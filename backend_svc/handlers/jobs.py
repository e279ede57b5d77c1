"""RPC handlers for solve jobs: the portal's (submit, list, get, cancel, interrupt) and the
solve workers' (report, started, progress, finished). Another user's job answers 404.

Worker messages carry no principal: they are sent only by solve-worker broker users, and the
worker name in each must belong to its sender (common/amqp/identity.py, docs/security.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import asyncpg
import structlog

from backend_svc import attempts, jobs, policy, workers
from backend_svc.changes import user_id_named
from backend_svc.handlers.base import PoolHandlers
from backend_svc.jobs import FoundJob
from backend_svc.policy import Action
from backend_svc.queue import Positions, queue_positions
from backend_svc.quotas import QuotaRules
from backend_svc.settings import BackendSettings
from common.amqp.publisher import Publisher
from common.contracts.base import Principal
from common.contracts.jobs import (
    Accepted,
    JobFinished,
    JobList,
    JobOut,
    JobProgress,
    JobRef,
    JobStarted,
    ListJobs,
    StopJob,
    SubmitJob,
    WorkerReport,
    WorkerReportReply,
)
from common.contracts.method import implements
from common.contracts.methods import JobMethods, WorkerMethods
from common.errors import NotFound
from common.visibility import may_see_job

log = structlog.get_logger(__name__)


def _authorize(actor: Principal, action: Action, found: FoundJob) -> None:
    """NotFound for a job ``actor`` may not see (the rule the portal's live events share);
    Forbidden when they see it but may not ``action`` it."""
    if not may_see_job(actor, found.job.user):
        raise NotFound("job not found")
    policy.authorize(actor, action, owner_id=found.user_id)


StopMode = Literal["cancel", "interrupt"]
_JobChange = Callable[[asyncpg.Connection, Principal, FoundJob], Awaitable[JobOut]]


async def listed_owner(
    conn: asyncpg.Connection, actor: Principal, list_all: Action, username: str | None
) -> str | None:
    """Whose items a list shows: the actor's own, or with ``list_all`` those of ``username``
    (everyone's when None)."""
    if not policy.allowed(actor, list_all):
        return actor.user_id
    return await user_id_named(conn, username) if username else None


async def stop_worker(commands: Publisher, job: JobOut, mode: StopMode) -> None:
    """Tell the worker of a job still held at once (it also learns it from its next report's
    reply, so a failure to publish is only logged)."""
    if job.worker is None or job.state not in jobs.ACTIVE_STATES:
        return
    stop = StopJob(job_id=job.id, attempt=job.attempt, mode=mode)
    try:
        await workers.send(commands, job.worker, stop)
    except Exception as exc:  # the next report's reply carries it
        log.warning("stop_job_publish_failed", job_id=job.id, error=repr(exc))


class JobHandlers(PoolHandlers):
    def __init__(
        self, pool: asyncpg.Pool, commands: Publisher, settings: BackendSettings,
        wake: Callable[[], None], positions: Positions = queue_positions,
    ):
        super().__init__(pool)
        self._positions = positions
        self._commands = commands
        self._settings = settings
        self._wake = wake
        self._rules = QuotaRules.of(settings)

    @implements(JobMethods.SUBMIT)
    async def submit(self, request: SubmitJob) -> JobOut:
        s = self._settings
        job = await self._write(
            jobs.submit, request.actor, request, default_memory_mb=s.default_memory_mb,
            max_attempts=s.max_attempts, rules=self._rules)
        self._wake()
        return job

    @implements(JobMethods.LIST)
    async def list_jobs(self, request: ListJobs) -> JobList:
        async with self._pool.acquire() as conn:
            user_id = await listed_owner(conn, request.actor, Action.JOB_LIST_ALL, request.user)
            found, total = await jobs.list_jobs(
                conn, user_id=user_id, state=request.state, app=request.app,
                limit=request.limit, offset=request.offset, positions=self._positions)
        return JobList(jobs=found, total=total)

    @implements(JobMethods.GET)
    async def get(self, request: JobRef) -> JobOut:
        found = await self._read(jobs.find_job, request.job_id)
        _authorize(request.actor, Action.JOB_READ, found)
        return found.job

    @implements(JobMethods.CANCEL)
    async def cancel(self, request: JobRef) -> JobOut:
        return await self._stop(request, Action.JOB_CANCEL, jobs.cancel, "cancel")

    @implements(JobMethods.INTERRUPT)
    async def interrupt(self, request: JobRef) -> JobOut:
        return await self._stop(request, Action.JOB_INTERRUPT, jobs.interrupt, "interrupt")

    async def _stop(
        self, request: JobRef, action: Action, change: _JobChange, mode: StopMode
    ) -> JobOut:
        """Find the job locked, check ``action``, ``change`` it, then tell its worker."""
        async with self._pool.acquire() as conn, conn.transaction():
            found = await jobs.find_job(conn, request.job_id, lock=True)
            _authorize(request.actor, action, found)
            job = await change(conn, request.actor, found)
        await stop_worker(self._commands, job, mode)
        return job

    @implements(WorkerMethods.REPORT)
    async def report(self, request: WorkerReport) -> WorkerReportReply:
        reply = await self._write(workers.report, request, lease_ttl_s=self._settings.lease_ttl_s)
        if request.slots_free > 0:
            self._wake()
        return reply

    @implements(WorkerMethods.STARTED)
    async def started(self, request: JobStarted) -> Accepted:
        current = await self._write(
            attempts.started, request, lease_ttl_s=self._settings.lease_ttl_s)
        return Accepted(current=current)

    @implements(WorkerMethods.PROGRESS)
    async def progress(self, request: JobProgress) -> Accepted:
        s = self._settings
        current = await self._write(
            attempts.progress, request, lease_ttl_s=s.lease_ttl_s,
            event_interval_s=s.progress_event_interval_s)
        return Accepted(current=current)

    @implements(WorkerMethods.FINISHED)
    async def finished(self, request: JobFinished) -> Accepted:
        current = await self._write(
            attempts.finished, request, restart_spacing_s=self._settings.restart_spacing_s)
        if current:
            self._wake()
        return Accepted(current=current)
