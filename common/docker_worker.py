"""The part the two Docker worker services (session_svc, solve_svc) share on top of
:class:`~common.worker_service.WorkerService`: their settings for Docker, S3 and packages, the
platform key, S3 and the Docker host pool with a warm pool per host, an RPC client to backend,
and a consumer of the worker's own queue (``topology.declare_worker_queue``).

Subclasses open these in their own order in ``start()`` (each part only when it runs work)
and close them with :meth:`DockerWorkerService.close_clients`, which tolerates a partial start.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from common.amqp.consumer import MessageHandler, WorkerQueueConsumer
from common.amqp.rpc import RpcClient
from common.docker import DockerHost, DockerSettings, HostPool, WarmPool
from common.packages import PlatformPrivateKey, load_platform_key
from common.settings import PackageSettings, S3Settings, ServiceSettings
from common.storage import S3Storage
from common.worker_service import WorkerService


class DockerWorkerService(WorkerService):
    """A worker service that runs containers; subclasses set ``worker_queue`` in ``__init__``
    and give :meth:`warm_pool` for a host."""

    worker_queue: str

    def __init__(self, settings: ServiceSettings, *, docker: DockerSettings | None = None,
                 s3: S3Settings | None = None, packages: PackageSettings | None = None):
        super().__init__(settings)
        self.docker_settings = docker or DockerSettings()
        self.s3_settings = s3 or S3Settings()
        self.package_settings = packages or PackageSettings()
        self.pool: HostPool | None = None
        self._storage: S3Storage | None = None
        self._warm: dict[str, WarmPool] = {}
        self._rpc_client: RpcClient | None = None
        self._own_queue: WorkerQueueConsumer | None = None
        self._clients = AsyncExitStack()  # what close_clients closes, in reverse

    def platform_key(self) -> PlatformPrivateKey | None:
        """The platform key, or None when none is configured (the worker then runs nothing).
        Raises when the configured file cannot be read."""
        key_file = self.package_settings.platform_key_file
        return load_platform_key(key_file) if key_file else None

    async def open_storage_and_hosts(self) -> tuple[S3Storage, HostPool]:
        """Open S3 and the Docker host pool; raises when either cannot be reached."""
        self._storage = S3Storage(self.s3_settings,
                                  connect_deadline_s=self.settings.connect_deadline_s)
        await self._storage.start()
        self._clients.push_async_callback(self._storage.stop)
        self.pool = HostPool(self.docker_settings)
        await self.pool.start()
        self._clients.push_async_callback(self.pool.stop)
        return self._storage, self.pool

    def open_warm_pools(self) -> dict[str, WarmPool]:
        """One warm pool per host of the pool, by host name."""
        assert self.pool is not None
        self._warm = {h.name: self.warm_pool(h) for h in self.pool.hosts}
        for warm in self._warm.values():
            self._clients.push_async_callback(warm.close)
        return self._warm

    def warm_pool(self, host: DockerHost) -> WarmPool:
        raise NotImplementedError

    async def open_rpc_client(self) -> RpcClient:
        """The RPC client to backend, with its calls in this service's metrics."""
        assert self._connection is not None
        self._rpc_client = RpcClient(self._connection, timeout_s=self.settings.rpc_timeout_s,
                                     metrics=self.metrics.rpc_client)
        await self._rpc_client.start()
        self._clients.push_async_callback(self._rpc_client.stop)
        return self._rpc_client

    async def consume_own_queue(self, handler: MessageHandler) -> None:
        """Consume ``worker_queue`` with ``handler`` (prefetch ``amqp_prefetch``)."""
        assert self._connection is not None
        self._own_queue = WorkerQueueConsumer(self._connection, self.worker_queue, handler,
                                              prefetch=self.settings.amqp_prefetch)
        await self._own_queue.start()

    async def stop_own_queue(self) -> None:
        """Stop consuming ``worker_queue`` (messages not yet taken stay for the next life)."""
        if self._own_queue is not None:
            await self._own_queue.drain(0)
            self._own_queue = None

    async def close_clients(self) -> None:
        """Close what was opened (RPC client, warm pools, host pool, S3), last opened first."""
        await self._clients.aclose()
        self._rpc_client = None
        self._warm = {}
        self.pool = None
        self._storage = None
