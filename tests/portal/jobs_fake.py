"""An in-memory jobs backend over the real one: users, apps and cases go to backend_svc, jobs
live here and publish their ``modelport.job.*`` events on the broker as backend's outbox would.

It stands in until backend_svc answers the JobMethods, and lets tests drive a job's states
(started, progress, finished) without a solve worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from cryptography.fernet import Fernet

from common.amqp import topology
from common.amqp.publisher import Publisher
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.events import CloudEvent
from common.contracts.jobs import (
    TERMINAL_STATES,
    JobEvent,
    JobList,
    JobOut,
    ListJobs,
    SubmitJob,
)
from common.errors import Conflict, NotFound
from portal_svc.backend_client import BackendClient, _build
from portal_svc.service import PortalService
from portal_svc.settings import PortalSettings
from tests.portal.uploads import publish_transport
from tests.support.stack import Stack, package_settings

_EVENT_TYPES = {"queued": JobEvent.QUEUED, "running": JobEvent.STARTED,
                "succeeded": JobEvent.SUCCEEDED, "failed": JobEvent.FAILED,
                "cancelled": JobEvent.CANCELLED, "lost": JobEvent.LOST}


class FakeJobs(BackendClient):
    """See the module docstring. ``jobs`` in submission order."""

    def __init__(self, rpc: RpcClient, connection: AbstractRobustConnection) -> None:
        super().__init__(rpc, connection)
        self.connection = connection
        self.jobs: dict[str, JobOut] = {}
        self._publisher: Publisher | None = None

    async def submit_job(self, actor: Principal, **fields: object) -> JobOut:
        request = _build(SubmitJob, actor=actor, **fields)
        app = await self.get_app(actor, request.app)  # 404 for an unknown app
        now = datetime.now(UTC)
        job = JobOut(
            id=str(uuid.uuid4()), user=actor.username, app=app.name,
            app_version=request.version or "1.0.0", procedure=request.procedure,
            state="queued", reason=None, priority=request.priority, attempt=1, max_attempts=3,
            time_limit_s=request.time_limit_s, memory_mb=request.memory_mb,
            not_before=request.not_before, input_case_id=request.input_case_id,
            output_case_id=None, progress=None, progress_message=None, interrupted=False,
            queue_position=1 + sum(j.state == "queued" for j in self.jobs.values()),
            worker=None, created_at=now, started_at=None, finished_at=None,
        )
        self.jobs[job.id] = job
        await self._publish(JobEvent.QUEUED, job)
        return job

    async def list_jobs(self, actor: Principal, **filters: object) -> JobList:
        query = _build(ListJobs, actor=actor, **filters)
        found = [j for j in reversed(self.jobs.values()) if _visible(actor, j)
                 and query.state in (None, j.state) and query.app in (None, j.app)
                 and (query.user is None or not actor.is_admin or j.user == query.user)]
        return JobList(jobs=found[query.offset:query.offset + query.limit], total=len(found))

    async def get_job(self, actor: Principal, job_id: str) -> JobOut:
        job = self.jobs.get(job_id)
        if job is None or not _visible(actor, job):
            raise NotFound(f"no job {job_id}")
        return job

    async def cancel_job(self, actor: Principal, job_id: str) -> JobOut:
        job = await self.get_job(actor, job_id)
        if job.state in TERMINAL_STATES:
            raise Conflict(f"job {job_id} is {job.state} already", code="job_finished")
        return await self.move(job_id, "cancelled")

    async def interrupt_job(self, actor: Principal, job_id: str) -> JobOut:
        job = await self.get_job(actor, job_id)
        if job.state != "running":
            raise Conflict(f"job {job_id} is not running", code="not_running")
        return job

    # --- what a solve worker would cause ---------------------------------------------------

    async def move(self, job_id: str, state: str, **changes: Any) -> JobOut:
        """Put the job in ``state`` (with ``changes``) and publish that state's event."""
        now = datetime.now(UTC)
        stamps: dict[str, Any] = {"queue_position": None} if state != "queued" else {}
        if state == "running":
            stamps["started_at"] = now
        if state in TERMINAL_STATES:
            stamps["finished_at"] = now
        job = self.jobs[job_id].model_copy(update={"state": state, **stamps, **changes})
        self.jobs[job_id] = job
        await self._publish(_EVENT_TYPES[state], job)
        return job

    async def progress(self, job_id: str, fraction: float, message: str = "") -> None:
        job = self.jobs[job_id].model_copy(update={"progress": fraction,
                                                    "progress_message": message})
        self.jobs[job_id] = job
        await self._publish(JobEvent.PROGRESS, job, fraction=fraction, message=message)

    async def _publish(self, event_type: str, job: JobOut, **extra: Any) -> None:
        if self._publisher is None:
            self._publisher = Publisher(self.connection, topology.EVENTS)
            await self._publisher.start()
        data = JobEvent(job_id=job.id, user=job.user, app=job.app, attempt=job.attempt,
                        state=job.state, reason=job.reason, interrupted=job.interrupted, **extra)
        await self._publisher.publish_event(CloudEvent(
            type=event_type, subject=job.id, data=data.model_dump(mode="json")))


def _visible(actor: Principal, job: JobOut) -> bool:
    return actor.is_admin or job.user == actor.username


class FakeJobsPortal(PortalService):
    """A portal whose backend client is :class:`FakeJobs` (see :attr:`jobs`)."""

    jobs: FakeJobs

    def make_backend(self, rpc: RpcClient, connection: AbstractRobustConnection) -> BackendClient:
        self.jobs = FakeJobs(rpc, connection)
        return self.jobs


@contextlib.asynccontextmanager
async def fake_jobs_stack(stack: Stack, amqp_url: str) -> AsyncIterator[tuple[Stack, FakeJobs]]:
    """``stack`` (transport published) seen through a second portal on the same backend whose
    jobs are :class:`FakeJobs`; yields that view of the stack and the fake."""
    await publish_transport(stack)
    settings = PortalSettings.model_validate({
        "amqp_url": amqp_url, "port": 0, "cookie_secret": Fernet.generate_key().decode(),
        "rpc_timeout_s": 10, "connect_deadline_s": 10, "shutdown_grace_s": 5,
    })
    portal = FakeJobsPortal(settings, s3=stack.s3_settings,
                            packages=package_settings(stack.work_dir.parent / "keys"))
    await portal.start()
    try:
        view = dataclasses.replace(stack, portal_url=f"http://127.0.0.1:{portal.port}",
                                   portal=portal)
        yield view, portal.jobs
    finally:
        await portal.stop()
