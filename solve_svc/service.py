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
from common.docker import DockerHost, DockerSettings, WarmPool
from common.docker.metrics import register_docker_metrics
from common.docker.spec import Limits
from common.docker_worker import DockerWorkerService
from common.packages import PlatformPrivateKey, TrustedKeys
from common.settings import PackageSettings, S3Settings
from modelport.agent.protocol import SERVE_PROTOCOL_LABEL
from solve_svc.agent_exec import AGENT_SERVE
from solve_svc.backend import BackendLink
from solve_svc.execution import Env
from solve_svc.reclaim import Reclaimer, owner_of
from solve_svc.settings import SolveSettings
from solve_svc.worker import Worker

log = structlog.get_logger(__name__)


class SolveService(DockerWorkerService):
    """Serves ``system.ping`` on ``solve.rpc``; runs the jobs sent to its own queue."""

    name = "solve"
    rpc_queue: ClassVar[str] = topology.SOLVE_RPC
    commands_queue: ClassVar[str] = topology.SOLVE_COMMANDS

    def __init__(self, settings: SolveSettings, *, docker: DockerSettings | None = None,
                 s3: S3Settings | None = None, packages: PackageSettings | None = None):
        super().__init__(settings, docker=docker, s3=s3, packages=packages)
        self.settings: SolveSettings = settings
        self.worker_queue = topology.solve_worker_queue(self.instance)
        self.worker: Worker | None = None
        self._warm_metrics = register_docker_metrics(self.metrics.registry, lambda: self.pool,
                                                     lambda: self._warm)

    def metric_queues(self) -> list[str]:
        return [*super().metric_queues(), self.worker_queue]

    async def start(self) -> None:
        """Start the base service, then the job machinery; raises when a part cannot start
        (unreadable platform key, S3 or broker unreachable). Without a platform key
        configured the worker runs no jobs (it only answers ping) and says so in its log."""
        key = self.platform_key()
        await super().start()
        if key is None:
            log.warning("solve_jobs_disabled", reason="MODELPORT_PLATFORM_KEY_FILE is not set")
            return
        await self._start_jobs(key)

    async def _start_jobs(self, key: PlatformPrivateKey) -> None:
        storage, pool = await self.open_storage_and_hosts()
        reclaimer = Reclaimer(pool, self.instance)
        await reclaimer.sweep_own()
        warm = self.open_warm_pools()
        rpc_client = await self.open_rpc_client()
        env = Env(self.instance, pool, warm, storage, key, self.settings,
                  max_case_bytes=self.package_settings.max_case_mb * 1024 * 1024,
                  trusted_keys=self._trusted_keys())
        self.worker = Worker(env, BackendLink(rpc_client), self.settings.report_interval_s,
                             reclaimer)
        self.worker.start()
        await self.consume_own_queue(self.worker.handle)
        log.info("solve_worker_ready", queue=self.worker_queue)

    def _trusted_keys(self) -> TrustedKeys:
        """The publisher keys a runtime package must be signed by before ``docker load``."""
        path = self.package_settings.trusted_keys
        if not path:
            log.warning("no_trusted_keys", hint="runtimes missing on a host cannot be loaded "
                        "until MODELPORT_TRUSTED_KEYS is set")
        return TrustedKeys.load_optional(path)

    def warm_pool(self, host: DockerHost) -> WarmPool:
        limits = Limits(memory_mb=self.settings.default_memory_mb, cpus=self.settings.job_cpus,
                        pids=self.settings.job_pids, work_mb=self.settings.job_work_mb)
        return WarmPool(host, size=self.docker_settings.warm_per_runtime, limits=limits,
                        serve_cmd=AGENT_SERVE, metrics=self._warm_metrics,
                        owner=owner_of(self.instance), protocol_label=SERVE_PROTOCOL_LABEL)

    async def stop(self) -> None:
        """Stop taking jobs, let attempts finish within the grace period, close everything."""
        self._stopping = True
        if self.worker is not None:
            await self.worker.retire()
        await self.stop_own_queue()
        if self.worker is not None:
            await self.worker.close(self.settings.shutdown_grace_s)
        await self.close_clients()
        await super().stop()
