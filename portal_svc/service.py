"""The portal service: AMQP link to the backend plus the HTTP server, started and stopped."""

from __future__ import annotations

from contextlib import AsyncExitStack

import structlog
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from common.metrics import ServiceMetrics
from common.settings import PackageSettings, S3Settings
from portal_svc.app import make_app
from portal_svc.backend_client import BackendClient
from portal_svc.files.bucket import PortalStorage
from portal_svc.files.trust import PackageKeys
from portal_svc.list_cache import LIST_CACHE, list_cache_consumer
from portal_svc.live.jobs import JOB_HUB, JobEventConsumer
from portal_svc.live.revocation import OPEN_STREAMS, revocation_consumer
from portal_svc.settings import PortalSettings

log = structlog.get_logger(__name__)


class PortalService:
    """Serves the portal on ``settings.host:settings.port`` (see :attr:`port` once started).

    ``stop()`` stops accepting connections, lets requests in flight finish within
    ``settings.shutdown_grace_s``, then closes the RPC client and the AMQP connection.
    """

    name = "portal"

    def __init__(
        self, settings: PortalSettings, *, s3: S3Settings | None = None,
        packages: PackageSettings | None = None,
    ):
        """``s3`` and ``packages`` default to what the environment says (``MODELPORT_S3_*``,
        ``MODELPORT_PLATFORM_KEY_FILE`` and so on)."""
        self.settings = settings
        self.s3_settings = s3 if s3 is not None else S3Settings()
        self.package_settings = packages if packages is not None else PackageSettings()
        self.port = settings.port
        self.metrics = ServiceMetrics(self.name)
        self.app: web.Application | None = None  # once started
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        """Load the package keys, open S3 (creating the bucket), connect to the broker and
        start serving. Raises BadKey for a broken key file, and when S3 or the broker stay
        unreachable past ``connect_deadline_s``."""
        s = self.settings
        keys = PackageKeys.load(self.package_settings)
        storage = PortalStorage(self.s3_settings, connect_deadline_s=s.connect_deadline_s)
        await storage.start()
        self._stack.push_async_callback(storage.stop)
        connection = await connect(
            s.amqp_url.get_secret_value(), deadline_s=s.connect_deadline_s, name=self.name
        )
        self._stack.push_async_callback(connection.close)
        rpc = RpcClient(connection, timeout_s=s.rpc_timeout_s, metrics=self.metrics.rpc_client)
        await rpc.start()
        self._stack.push_async_callback(rpc.stop)
        app = make_app(s, self.make_backend(rpc, connection), storage=storage, keys=keys,
                       metrics=self.metrics)
        self.app = app
        kept = app[LIST_CACHE]  # looked up per event, so a test can watch what it is told
        consumer = JobEventConsumer(connection, app[JOB_HUB],
                                    first=lambda event: kept.on_event(event))
        await consumer.start()
        self._stack.push_async_callback(consumer.stop)
        revocations = revocation_consumer(connection, app[OPEN_STREAMS])
        await revocations.start()
        self._stack.push_async_callback(revocations.stop)
        lists = list_cache_consumer(connection, app[LIST_CACHE])
        await lists.start()
        self._stack.push_async_callback(lists.stop)
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
        """Drain HTTP, then close the RPC client, the connection and S3, in that order."""
        await self._stack.aclose()

    async def _drain(self, runner: web.AppRunner) -> None:
        server = runner.server
        in_flight = len(server.connections) if server is not None else 0
        log.info("portal_draining", connections=in_flight, grace_s=self.settings.shutdown_grace_s)
        await runner.cleanup()
        log.info("portal_drained")
