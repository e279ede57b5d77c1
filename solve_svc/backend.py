"""What a solve worker says to backend: WorkerMethods RPCs on ``topology.BACKEND_RPC``."""

from __future__ import annotations

from typing import TypeVar

import aiormq
from pydantic import BaseModel

from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.jobs import (
    Accepted,
    JobFinished,
    JobProgress,
    JobStarted,
    WorkerMethods,
    WorkerReport,
    WorkerReportReply,
)
from common.errors import Unavailable

R = TypeVar("R", bound=BaseModel)
# What a call raises while the broker link is down (RpcClient passes them through as is).
_LINK_ERRORS = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError)


class BackendLink:
    """Thin typed calls over an :class:`RpcClient`. Each raises what ``RpcClient.call`` raises
    (RpcTimeout, Unavailable, the server's ModelportError), and Unavailable
    (``backend_unavailable``) while the broker link is down, so callers retry or wait for
    the lease instead of crashing."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc

    async def started(self, message: JobStarted) -> bool:
        """True when the attempt is still current (run it); False: drop it."""
        return (await self._call(WorkerMethods.STARTED, message)).current

    async def progress(self, message: JobProgress) -> bool:
        return (await self._call(WorkerMethods.PROGRESS, message)).current

    async def finished(self, message: JobFinished) -> bool:
        return (await self._call(WorkerMethods.FINISHED, message)).current

    async def report(self, message: WorkerReport) -> WorkerReportReply:
        return await self._send(WorkerMethods.REPORT, message, WorkerReportReply)

    async def _call(self, method: str, message: JobStarted | JobProgress | JobFinished
                    ) -> Accepted:
        return await self._send(method, message, Accepted)

    async def _send(self, method: str, message: BaseModel, reply: type[R]) -> R:
        try:
            return await self._rpc.call(topology.BACKEND_RPC, method, message, reply)
        except _LINK_ERRORS as exc:
            raise Unavailable("backend cannot be reached: the broker link is down",
                              code="backend_unavailable") from exc
