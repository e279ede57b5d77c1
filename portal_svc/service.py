"""The portal service: AMQP link to the backend plus the HTTP server, started and stopped."""

from __future__ import annotations

from contextlib import AsyncExitStack

import structlog
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from portal_svc.app import make_app
from portal_svc.backend_client import BackendClient
from portal_svc.settings import PortalSettings

log = structlog.get_logger(__name__)


class PortalService:
    """Serves the portal on ``settings.host:settings.port`` (see :attr:`port` once started).

    ``stop()`` stops accepting connections, lets requests in flight finish within
    ``settings.shutdown_grace_s``, then closes the RPC client and the AMQP connection.
    """

    name = "portal"

    def __init__(self, settings: PortalSettings):
        self.settings = settings
        self.port = settings.port
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        """Connect to the broker and start serving; raises when the broker stays unreachable."""
        s = self.settings
        connection = await connect(
            s.amqp_url.get_secret_value(), deadline_s=s.connect_deadline_s, name=self.name
        )
        self._stack.push_async_callback(connection.close)
        rpc = RpcClient(connection, timeout_s=s.rpc_timeout_s)
        await rpc.start()
        self._stack.push_async_callback(rpc.stop)
        app = make_app(s, self.make_backend(rpc, connection))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=s.shutdown_grace_s)
        await runner.setup()
        self._stack.push_async_callback(self._drain, runner)
        site = web.TCPSite(runner, s.host, s.port)
        await site.start()
        self.port = runner.addresses[0][1]
        log.info("portal_listening", host=s.host, port=self.port)

    def make_backend(
        self, rpc: RpcClient, connection: AbstractRobustConnection
    ) -> BackendClient:
        """The backend client the app uses; tests override it to drive failure paths."""
        return BackendClient(rpc, connection)

    async def stop(self) -> None:
        """Drain HTTP, then close the RPC client and the connection, in that order."""
        await self._stack.aclose()

    async def _drain(self, runner: web.AppRunner) -> None:
        server = runner.server
        in_flight = len(server.connections) if server is not None else 0
        log.info("portal_draining", connections=in_flight, grace_s=self.settings.shutdown_grace_s)
        await runner.cleanup()
        log.info("portal_drained")
