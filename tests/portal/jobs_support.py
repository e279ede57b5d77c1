"""Jobs tests on the real backend: a stack with the transport app published and a
:class:`WorkerDriver` that moves jobs through their states by the RPCs a solve worker makes
(``workers.report``, ``jobs.started``, ``jobs.progress``, ``jobs.finished``), so backend's
outbox publishes the real ``modelport.job.*`` events."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from common.contracts.jobs import BlobRef, JobProgress, attempt_key
from common.contracts.methods import WorkerMethods
from common.settings import S3Settings
from common.storage import META_SHA256
from tests.backend.jobs_support import FakeWorker
from tests.portal.uploads import call, case_bytes, publish_transport
from tests.support.stack import Stack, running_stack

FAST_BACKEND = {"MODELPORT_PROGRESS_EVENT_INTERVAL_S": "0", "MODELPORT_SCHEDULER_INTERVAL_S": "0.2"}


class WorkerDriver:
    """Runs jobs of ``stack`` as a one-slot solve worker named ``worker`` would."""

    def __init__(self, stack: Stack, worker: FakeWorker) -> None:
        self.stack, self.worker = stack, worker

    async def start(self, job_id: str) -> None:
        """Offer a free slot until backend hands this job over, then report it started."""
        await self.worker.report(free=1)
        run = await self.worker.run_of(job_id)
        assert await self.worker.started(job_id, run["attempt"])

    async def progress(self, job_id: str, fraction: float, message: str = "") -> None:
        msg = JobProgress(worker=self.worker.name, job_id=job_id, attempt=1, fraction=fraction,
                          message=message)
        assert (await self.worker.rpc.call_method(WorkerMethods.PROGRESS, msg)).current

    async def succeed(self, job_id: str, output: bytes | None = None,
                      log: bytes = b"solved\n") -> None:
        """Finish the job succeeded, with ``output`` (a case file) and ``log`` stored first."""
        extra: dict[str, Any] = {"log": await self.store(attempt_key(job_id, 1, "log"), log)}
        if output is not None:
            extra["output_case"] = await self.store(attempt_key(job_id, 1, "result"), output)
        assert await self.worker.finished(job_id, **extra)

    async def fail(self, job_id: str, reason: str, log: bytes = b"failed\n") -> None:
        stored = await self.store(attempt_key(job_id, 1, "log"), log)
        assert await self.worker.finished(job_id, outcome="failed", reason=reason, log=stored)

    async def store(self, key: str, data: bytes) -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        await self.stack.s3_put(key, data, {META_SHA256: digest})
        return BlobRef(s3_key=key, sha256=digest, size_bytes=len(data))

    async def state(self, job_id: str) -> str:
        status, job = await call(self.stack, "GET", f"/api/v1/jobs/{job_id}")
        assert status == 200, job
        return str(job["state"])


@asynccontextmanager
async def driven(stack: Stack, amqp_url: str) -> AsyncIterator[WorkerDriver]:
    """Transport published on ``stack``, and a driver with its own broker link."""
    await publish_transport(stack)
    connection = await connect(amqp_url, deadline_s=10, name="test-worker")
    rpc = RpcClient(connection, timeout_s=10)
    await rpc.start()
    try:
        async with FakeWorker(amqp_url, rpc, "test-worker", slots=1) as worker:
            yield WorkerDriver(stack, worker)
    finally:
        await rpc.stop()
        await connection.close()


def transport_case() -> bytes:
    """A valid case of the transport app (as a result case)."""
    return case_bytes("transport")


@asynccontextmanager
async def jobs_stack(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> AsyncIterator[tuple[Stack, WorkerDriver]]:
    """A stack whose backend events every progress report and schedules quickly, with
    transport published, and a :class:`WorkerDriver` on it."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAST_BACKEND.items():
            env.setenv(name, value)
        async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path) as stack, \
                driven(stack, amqp_url) as driver:
            yield stack, driver
