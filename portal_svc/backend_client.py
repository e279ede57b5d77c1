"""The portal's client of backend_svc: one typed call for every declared method.

``await backend.call(JobMethods.GET, actor=caller.principal, job_id=job_id)`` returns the
method's reply contract (see :class:`~common.amqp.method_client.MethodClient` for what it
raises); a field the request contract refuses is a 400 ``invalid_request``.
"""

from __future__ import annotations

from aio_pika.abc import AbstractRobustConnection

from common.amqp import topology
from common.amqp.method_client import MethodClient
from common.amqp.rpc import RpcClient, link_up
from common.contracts.system import PING_ON, Pong
from common.errors import ModelportError

PING_TIMEOUT_S = 2.0


class BackendClient(MethodClient):
    """Calls ``backend_svc``; knows whether the broker link is up."""

    def __init__(self, rpc: RpcClient, connection: AbstractRobustConnection | None = None):
        super().__init__(rpc)
        self._connection = connection

    async def ping(self, *, timeout_s: float = PING_TIMEOUT_S) -> Pong:
        """Ask the backend whether it answers at all."""
        return await self.call(PING_ON[topology.BACKEND_RPC], timeout_s=timeout_s)

    def link_open(self) -> bool:
        """True while the AMQP connection is up (not closed, not reconnecting)."""
        return self._connection is not None and link_up(self._connection)

    async def readiness(self) -> dict[str, bool]:
        """Checks for ``/readyz``: the broker link is open and the backend pings back in 2 s."""
        amqp = self.link_open()
        backend = False
        if amqp:
            try:
                await self.ping()
                backend = True
            except ModelportError:
                backend = False
        return {"amqp": amqp, "backend": backend}
