"""SolveService: the solve worker. On top of :class:`~common.worker_service.WorkerService`
it opens S3, the Docker host pool and the platform key, sweeps the containers it left in an
earlier life under the same instance id (only its own: see :mod:`solve_svc.reclaim`),
consumes its own queue ``solve.worker.<instance>`` and heartbeats to backend (reporting
other workers' containers it sees, and removing those backend calls orphans).

Stop (SIGTERM): stop taking RunJob, give running attempts ``shutdown_grace_s`` to finish,
cut the rest (their containers removed, nothing reported: backend's lease expiry re-queues
them), then close everything.
"""

from __future__ import annotations

from typing import ClassVar

import structlog

from common.amqp import topology
from common.amqp.consumer import Consumer
from common.amqp.rpc import RpcClient
from common.docker import DockerHost, DockerSettings, HostPool, WarmPool
from common.docker.metrics import register_docker_metrics
from common.docker.spec import Limits
from common.packages import PlatformPrivateKey, TrustedKeys, load_platform_key
from common.settings import PackageSettings, S3Settings
from common.storage import S3Storage
from common.worker_service import WorkerService
from solve_svc.agent_exec import AGENT_SERVE
from solve_svc.backend import BackendLink
from solve_svc.execution import Env
from solve_svc.reclaim import Reclaimer, owner_of
from solve_svc.settings import SolveSettings
from solve_svc.worker import Worker

log = structlog.get_logger(__name__)


class WorkerQueueConsumer(Consumer):
    """A :class:`Consumer` of a worker's own queue (``topology.declare_worker_queue``)."""

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self._prefetch)
        await topology.declare_base(self._channel)
        self._queue = await topology.declare_worker_queue(self._channel, self._queue_name)
        self._consumer_tag = await self._queue.consume(self._on_message)


class SolveService(WorkerService):
    """Serves ``system.ping`` on ``solve.rpc``; runs the jobs sent to its own queue."""

    name = "solve"
    rpc_queue: ClassVar[str] = topology.SOLVE_RPC
    commands_queue: ClassVar[str] = topology.SOLVE_COMMANDS

    def __init__(self, settings: SolveSettings, *, docker: DockerSettings | None = None,
                 s3: S3Settings | None = None, packages: PackageSettings | None = None):
        super().__init__(settings)
        self.settings: SolveSettings = settings
        self.docker_settings = docker or DockerSettings()
        self.s3_settings = s3 or S3Settings()
        self.package_settings = packages or PackageSettings()
        self.worker_queue = topology.solve_worker_queue(self.instance)
        self.pool: HostPool | None = None
        self.worker: Worker | None = None
        self._storage: S3Storage | None = None
        self._warm: dict[str, WarmPool] = {}
        self._rpc_client: RpcClient | None = None
        self._queue_consumer: WorkerQueueConsumer | None = None
        self._warm_metrics = register_docker_metrics(self.metrics.registry, lambda: self.pool,
                                                     lambda: self._warm)

    def metric_queues(self) -> list[str]:
        return [*super().metric_queues(), self.worker_queue]

    async def start(self) -> None:
        """Start the base service, then the job machinery; raises when a part cannot start
        (unreadable platform key, S3 or broker unreachable). Without a platform key
        configured the worker runs no jobs (it only answers ping) and says so in its log."""
        key_file = self.package_settings.platform_key_file
        key = load_platform_key(key_file) if key_file else None
        await super().start()
        if key is None:
            log.warning("solve_jobs_disabled", reason="MODELPORT_PLATFORM_KEY_FILE is not set")
            return
        await self._start_jobs(key)

    async def _start_jobs(self, key: PlatformPrivateKey) -> None:
        assert self._connection is not None
        self._storage = S3Storage(self.s3_settings,
                                  connect_deadline_s=self.settings.connect_deadline_s)
        await self._storage.start()
        self.pool = HostPool(self.docker_settings)
        await self.pool.start()
        reclaimer = Reclaimer(self.pool, self.instance)
        await reclaimer.sweep_own()
        self._warm = {h.name: self._warm_pool(h) for h in self.pool.hosts}
        self._rpc_client = RpcClient(self._connection, timeout_s=self.settings.rpc_timeout_s,
                                     metrics=self.metrics.rpc_client)
        await self._rpc_client.start()
        env = Env(self.instance, self.pool, self._warm, self._storage, key, self.settings,
                  max_case_bytes=self.package_settings.max_case_mb * 1024 * 1024,
                  trusted_keys=self._trusted_keys())
        self.worker = Worker(env, BackendLink(self._rpc_client), self.settings.report_interval_s,
                             reclaimer)
        self.worker.start()
        self._queue_consumer = WorkerQueueConsumer(
            self._connection, self.worker_queue, self.worker.handle,
            prefetch=self.settings.amqp_prefetch)
        await self._queue_consumer.start()
        log.info("solve_worker_ready", queue=self.worker_queue)

    def _trusted_keys(self) -> TrustedKeys:
        """The publisher keys a runtime package must be signed by before ``docker load``."""
        path = self.package_settings.trusted_keys
        if not path:
            log.warning("no_trusted_keys", hint="runtimes missing on a host cannot be loaded "
                        "until MODELPORT_TRUSTED_KEYS is set")
        return TrustedKeys.load_optional(path)

    def _warm_pool(self, host: DockerHost) -> WarmPool:
        limits = Limits(memory_mb=self.settings.default_memory_mb, cpus=self.settings.job_cpus,
                        pids=self.settings.job_pids, work_mb=self.settings.job_work_mb)
        return WarmPool(host, size=self.docker_settings.warm_per_runtime, limits=limits,
                        serve_cmd=AGENT_SERVE, metrics=self._warm_metrics,
                        owner=owner_of(self.instance))

    async def stop(self) -> None:
        """Stop taking jobs, let attempts finish within the grace period, close everything."""
        self._stopping = True
        if self.worker is not None:
            await self.worker.retire()
        if self._queue_consumer is not None:
            await self._queue_consumer.drain(0)
            self._queue_consumer = None
        if self.worker is not None:
            await self.worker.close(self.settings.shutdown_grace_s)
        for warm in self._warm.values():
            await warm.close()
        await self._close_clients()
        await super().stop()

    async def _close_clients(self) -> None:
        if self._rpc_client is not None:
            await self._rpc_client.stop()
            self._rpc_client = None
        if self.pool is not None:
            await self.pool.stop()
            self.pool = None
        if self._storage is not None:
            await self._storage.stop()
            self._storage = None

