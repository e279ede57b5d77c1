"""The lifecycle shared by the worker services (session_svc, solve_svc).

A :class:`WorkerService` owns one AMQP connection, an RPC server on its own queue (answering
``system.ping`` and whatever a subclass registers), a consumer on its command queue and the
status server (``/healthz``, ``/readyz``, ``/metrics``). Subclasses name their queues and add
handlers; the order of start and stop lives here once.

Stop order: mark not ready, drain the RPC server and the consumer together within
``shutdown_grace_s`` (in-flight work finishes, the rest is cut and redelivered), stop the
status server, close the connection.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import ClassVar

import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from common.amqp.connection import connect
from common.amqp.consumer import Consumer
from common.amqp.rpc import RpcServer
from common.health import StatusServer
from common.metrics import QueueDepths, ServiceMetrics
from common.ping import serve_ping
from common.settings import ServiceSettings

log = structlog.get_logger(__name__)


def default_instance_id() -> str:
    """``host-pid``: unique enough to tell replicas apart in logs and pongs."""
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerService:
    """Base of a service that serves RPC and consumes one command queue.

    Subclasses set ``name``, ``rpc_queue`` and ``commands_queue`` and may override
    :meth:`register_rpc` and :meth:`handle_command`. ``start()`` raises when the broker cannot
    be reached within ``connect_deadline_s``; ``stop()`` is safe after a partial start.
    """

    name: str  # a plain attribute: common.service.Runnable expects an instance variable
    rpc_queue: ClassVar[str]
    commands_queue: ClassVar[str]

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.instance = settings.instance_id or default_instance_id()
        self._connection: AbstractRobustConnection | None = None
        self._rpc: RpcServer | None = None
        self._consumer: Consumer | None = None
        self._status: StatusServer | None = None
        self._stopping = False
        self.metrics = ServiceMetrics(self.name)
        QueueDepths(self.metrics, lambda: self._connection, self.metric_queues)

    def metric_queues(self) -> list[str]:
        """The queues whose depth ``/metrics`` shows: the ones this service consumes."""
        return [self.rpc_queue, self.commands_queue]

    @property
    def status_port(self) -> int:
        """The status server's bound port (useful when ``status_port`` is 0)."""
        return self._status.port if self._status is not None else self.settings.status_port

    async def start(self) -> None:
        """Connect, start serving RPC and commands, then report ready.

        The RPC server and the consumer declare their exchanges and queues idempotently.
        """
        s = self.settings
        self._connection = await connect(
            s.amqp_url.get_secret_value(), deadline_s=s.connect_deadline_s,
            name=f"{self.name}:{self.instance}",
        )
        self._rpc = RpcServer(self._connection, self.rpc_queue, prefetch=s.amqp_prefetch,
                              metrics=self.metrics.rpc_server, roles=s.broker_roles)
        serve_ping(self._rpc, self.name, self.instance)
        self.register_rpc(self._rpc)
        await self._rpc.start()
        self._consumer = Consumer(
            self._connection, self.commands_queue, self.handle_command, prefetch=s.amqp_prefetch
        )
        await self._consumer.start()
        self._status = StatusServer(self.name, self.readiness, host=s.status_host,
                                    port=s.status_port, metrics=self.metrics)
        await self._status.start()
        log.info("status_listening", host=s.status_host, port=self._status.port)

    async def stop(self) -> None:
        """Drain RPC and commands within the grace period, then close everything."""
        self._stopping = True
        await self._drain()
        if self._status is not None:
            await self._status.stop()
            self._status = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        log.info("connection_closed")

    async def _drain(self) -> None:
        grace = self.settings.shutdown_grace_s
        drains = []
        if self._rpc is not None:
            log.info("draining_rpc", in_flight=self._rpc.in_flight, grace_s=grace)
            drains.append(self._rpc.drain(grace))
        if self._consumer is not None:
            log.info("draining_commands", grace_s=grace)
            drains.append(self._consumer.drain(grace))
        results = await asyncio.gather(*drains, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.warning("drain_failed", error=repr(result))
        self._rpc = self._consumer = None
        log.info("drained")

    async def readiness(self) -> dict[str, bool]:
        """Checks behind ``/readyz``: the broker link is open and we are not stopping."""
        connection_open = self._connection is not None and not self._connection.is_closed
        return {"amqp": connection_open, "accepting": not self._stopping}

    def register_rpc(self, server: RpcServer) -> None:
        """Hook for subclasses to register their RPC methods (ping is registered already)."""

    async def handle_command(self, message: AbstractIncomingMessage) -> None:
        """Handle one command; the consumer acks when this returns. Default: log it."""
        log.info("command_received", type=message.type, message_id=message.message_id,
                 size=len(message.body))
