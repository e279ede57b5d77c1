"""A fake solve worker speaking the real protocol, and set-up for the jobs tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import AbstractIncomingMessage

from backend_svc.service import BackendService
from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.cases import CaseOut, RegisterCase
from common.contracts.jobs import (
    JobFinished,
    JobOut,
    JobProgress,
    JobStarted,
    SubmitJob,
    WorkerReport,
    WorkerReportReply,
)
from common.contracts.methods import CaseMethods, JobMethods, WorkerMethods
from tests.backend.conftest import backend_settings
from tests.backend.helpers import SHA, add_runtime, make_user, publish
from tests.support.events import Recorder

B = topology.BACKEND_RPC


class FakeWorker:
    """Declares its own queue, records what backend sends it, and calls backend's RPCs."""

    def __init__(self, amqp_url: str, rpc: RpcClient, name: str, slots: int = 4):
        self.url, self.rpc, self.name, self.slots = amqp_url, rpc, name, slots
        self._recorder = Recorder()
        self.messages = self._recorder.items
        self.wait_for = self._recorder.wait_for

    async def __aenter__(self) -> FakeWorker:
        self._connection = await aio_pika.connect(self.url)
        channel = await self._connection.channel()
        await topology.declare_base(channel)
        queue = await topology.declare_worker_queue(
            channel, topology.solve_worker_queue(self.name))
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        await self._recorder.add(json.loads(message.body) | {"_type": message.type})

    async def run_of(self, job_id: str, attempt: int = 1) -> dict[str, Any]:
        return await self.wait_for(lambda m: m["_type"] == "job.run" and m["job_id"] == job_id
                                   and m["attempt"] == attempt)

    async def report(self, running: list[tuple[str, int]] | None = None,
                     free: int | None = None) -> WorkerReportReply:
        running = running or []
        msg = WorkerReport(worker=self.name, slots_total=self.slots,
                           slots_free=self.slots - len(running) if free is None else free,
                           running=running)
        return await self.rpc.call_method(WorkerMethods.REPORT, msg)

    async def started(self, job_id: str, attempt: int = 1) -> bool:
        msg = JobStarted(worker=self.name, job_id=job_id, attempt=attempt)
        return (await self.rpc.call_method(WorkerMethods.STARTED, msg)).current

    async def progress(self, job_id: str, fraction: float, attempt: int = 1) -> bool:
        msg = JobProgress(worker=self.name, job_id=job_id, attempt=attempt, fraction=fraction,
                          message=f"at {fraction}")
        return (await self.rpc.call_method(WorkerMethods.PROGRESS, msg)).current

    async def finished(self, job_id: str, attempt: int = 1, outcome: str = "succeeded",
                       **extra: Any) -> bool:
        msg = JobFinished(worker=self.name, job_id=job_id, attempt=attempt,
                          outcome=outcome, **extra)  # type: ignore[arg-type]
        return (await self.rpc.call_method(WorkerMethods.FINISHED, msg)).current


@pytest.fixture
async def jobs_backend(pg_dsn: str, amqp_url: str) -> AsyncIterator[BackendService]:
    service = BackendService(backend_settings(
        pg_dsn, amqp_url, scheduler_interval_s=0.2, progress_event_interval_s=60,
        max_running_per_user=3, max_attempts=2))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def setup_app(rpc: RpcClient, app: str = "transport") -> Principal:
    await add_runtime(rpc, "1.0.0")
    await add_runtime(rpc, "1.2.0")
    await publish(rpc, app, "1.0.0")
    return await make_user(rpc, "alice")


async def make_case(rpc: RpcClient, owner: Principal, app: str = "transport") -> CaseOut:
    case_id = str(uuid.uuid4())
    request = RegisterCase(actor=owner, case_id=case_id, app=app, name="input",
                           s3_key=f"cases/{case_id}", sha256=SHA, size_bytes=10)
    return await rpc.call_method(CaseMethods.REGISTER, request)


async def submit(rpc: RpcClient, actor: Principal, **fields: Any) -> JobOut:
    request = SubmitJob(actor=actor, **({"app": "transport", "procedure": "solve"} | fields))
    return await rpc.call_method(JobMethods.SUBMIT, request)


async def job_states(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {str(r["id"]): r["state"] for r in await conn.fetch("SELECT id, state FROM jobs")}
    finally:
        await conn.close()


async def sql(dsn: str, query: str, *args: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(query, *args)
    finally:
        await conn.close()
