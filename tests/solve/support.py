"""A backend double for solve tests: answers the WorkerMethods RPCs on ``BACKEND_RPC`` and
records every call. backend_svc's scheduler is being built alongside; until it exists this
double stands in for it (replies: ``current`` as configured, stops handed out on reports)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from pydantic import BaseModel

from common.amqp import topology
from common.amqp.rpc import RpcServer
from common.contracts.jobs import (
    Accepted,
    BlobRef,
    JobFinished,
    RunJob,
    StopJob,
    WorkerReportReply,
)
from common.contracts.methods import WorkerMethods
from common.storage import S3Storage

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class FakeBackend:
    """Records calls; ``current`` is the answer to JobStarted/JobProgress."""

    current: bool = True
    calls: list[BaseModel] = field(default_factory=list)
    stops: list[StopJob] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def register(self, server: RpcServer) -> None:
        server.serve(WorkerMethods.STARTED, self._accept)
        server.serve(WorkerMethods.PROGRESS, self._accept)
        server.serve(WorkerMethods.FINISHED, self._finished)
        server.serve(WorkerMethods.REPORT, self._report)

    async def _record(self, call: BaseModel) -> None:
        async with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    async def _accept(self, call: BaseModel) -> Accepted:
        await self._record(call)
        return Accepted(current=self.current)

    async def _finished(self, call: BaseModel) -> Accepted:
        await self._record(call)
        return Accepted(current=True)

    async def _report(self, call: BaseModel) -> WorkerReportReply:
        await self._record(call)
        stops, self.stops = self.stops, []
        return WorkerReportReply(stop=stops)

    def of(self, kind: type[BaseModel]) -> list[BaseModel]:
        return [c for c in self.calls if isinstance(c, kind)]

    async def wait_for(self, kind: type[BaseModel], timeout_s: float = 60.0) -> BaseModel:
        """The first recorded call of ``kind``, waiting up to ``timeout_s`` for it."""
        async with asyncio.timeout(timeout_s), self.changed:
            await self.changed.wait_for(lambda: bool(self.of(kind)))
        return self.of(kind)[0]

    async def finished(self, timeout_s: float = 60.0) -> JobFinished:
        call = await self.wait_for(JobFinished, timeout_s)
        assert isinstance(call, JobFinished)
        return call


@contextlib.asynccontextmanager
async def serve_backend(connection: AbstractRobustConnection) -> AsyncIterator[FakeBackend]:
    backend = FakeBackend()
    server = RpcServer(connection, topology.BACKEND_RPC, prefetch=32)
    backend.register(server)
    await server.start()
    try:
        yield backend
    finally:
        await server.drain(1.0)


async def send(connection: AbstractRobustConnection, queue: str,
               message: RunJob | StopJob) -> None:
    """Publish a RunJob/StopJob to a worker's queue as backend would."""
    channel = await connection.channel(publisher_confirms=True)
    try:
        exchange = await channel.get_exchange(topology.COMMANDS, ensure=False)
        await exchange.publish(
            aio_pika.Message(message.model_dump_json().encode(), type=message.TYPE,
                             content_type="application/json",
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=queue, mandatory=True)
    finally:
        await channel.close()


async def put_blob(storage: S3Storage, key: str, path: Path) -> BlobRef:
    """Upload a local file and return its reference."""
    async def chunks() -> AsyncIterator[bytes]:
        with open(path, "rb") as f:  # noqa: ASYNC230 - test files
            while chunk := f.read(1 << 20):
                yield chunk

    stored = await storage.upload(key, chunks())
    return BlobRef(s3_key=stored.key, sha256=stored.sha256, size_bytes=stored.size)


def job_id() -> str:
    return "j" + uuid.uuid4().hex[:12]
