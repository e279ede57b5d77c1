"""A real backend in-process for the session tests, and a fake session worker that speaks
the real protocol (claims from ``session.commands``, reports, acts as the owner)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from backend_svc.service import BackendService
from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.methods import SessionMethods
from common.contracts.sessions import (
    ClaimSession,
    CreateSession,
    HeldSession,
    SessionFailed,
    SessionLaunch,
    SessionOut,
    SessionReady,
    SessionRef,
    SessionStopped,
    SessionWorkerReply,
    SessionWorkerReport,
)
from tests.backend.conftest import backend_settings
from tests.support.events import Recorder


@pytest.fixture
async def sessions_backend(pg_dsn: str, amqp_url: str) -> AsyncIterator[BackendService]:
    service = BackendService(backend_settings(
        pg_dsn, amqp_url, scheduler_interval_s=0.2, max_sessions_per_user=2,
        session_lease_ttl_s=1.0, session_claim_timeout_s=1.5))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


class FakeSessionWorker:
    """Records StartSession (shared queue) and StopSession (its own queue)."""

    def __init__(self, amqp_url: str, rpc: RpcClient, name: str) -> None:
        self.url, self.rpc, self.name = amqp_url, rpc, name
        self.boot = uuid.uuid4().hex  # a new process: a fake started again under ``name``
        self._recorder = Recorder()
        self.messages = self._recorder.items
        self.wait_for = self._recorder.wait_for

    async def __aenter__(self) -> FakeSessionWorker:
        self._connection = await aio_pika.connect(self.url)
        channel = await self._connection.channel()
        await topology.declare_base(channel)
        shared = await topology.declare_work_queue(channel, topology.SESSION_COMMANDS)
        own = await topology.declare_worker_queue(
            channel, topology.session_worker_queue(self.name))
        await shared.consume(self._on_message, no_ack=True)
        await own.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        await self._recorder.add(json.loads(message.body) | {"_type": message.type,
                                                             "_at": time.time()})

    async def claim(self, session_id: str) -> SessionLaunch:
        await self.wait_for(lambda m: m["_type"] == "session.start"
                            and m["session_id"] == session_id)
        return await self.rpc.call_method(SessionMethods.CLAIM, ClaimSession(
            worker=self.name, session_id=session_id, boot=self.boot))

    async def claim_now(self, session_id: str) -> SessionLaunch:
        """Claim without waiting for a StartSession."""
        return await self.rpc.call_method(SessionMethods.CLAIM, ClaimSession(
            worker=self.name, session_id=session_id, boot=self.boot))

    async def host_down(self, session_id: str, attempt: int) -> bool:
        """Report the session's Docker host failed (as session_svc does); whether current."""
        msg = SessionFailed(worker=self.name, session_id=session_id, attempt=attempt,
                            reason="host_down", message="Docker host b failed")
        return (await self.rpc.call_method(SessionMethods.FAILED, msg)).current

    async def ready(self, session_id: str, attempt: int = 1) -> bool:
        msg = SessionReady(worker=self.name, session_id=session_id, attempt=attempt,
                           host="local", endpoint="http://10.9.0.2:8000")
        return (await self.rpc.call_method(SessionMethods.READY, msg)).current

    async def report(self, *held: tuple[str, int, float | None]) -> SessionWorkerReply:
        msg = SessionWorkerReport(worker=self.name, boot=self.boot, sessions=[
            HeldSession(session_id=s, attempt=a, idle_s=i) for s, a, i in held])
        return await self.rpc.call_method(SessionMethods.REPORT, msg)

    async def stopped(self, session_id: str, attempt: int = 1, **extra: Any) -> bool:
        msg = SessionStopped(worker=self.name, session_id=session_id, attempt=attempt, **extra)
        return (await self.rpc.call_method(SessionMethods.STOPPED, msg)).current


async def create(rpc: RpcClient, actor: Principal, **fields: Any) -> SessionOut:
    request = CreateSession(actor=actor, **({"app": "transport"} | fields))
    return await rpc.call_method(SessionMethods.CREATE, request)


async def get(rpc: RpcClient, actor: Principal, session_id: str) -> SessionOut:
    return await rpc.call_method(SessionMethods.GET, SessionRef(actor=actor, session_id=session_id))
