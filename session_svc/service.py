"""SessionService: the session worker. On top of :class:`~common.worker_service.WorkerService`
it opens S3, the Docker host pool, the sessions network (with its host firewall) and the
platform key; sweeps session containers of an earlier life; takes StartSession from
``session.commands`` and StopSession from its own queue; follows job events for the
sessions' jobs; heartbeats to backend.

Stop (SIGTERM): stop taking sessions, stop the held ones (each autosaves) within
``shutdown_grace_s``, then close everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import ClassVar, TypeVar

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import ValidationError

from common.amqp import topology
from common.contracts.sessions import StartSession, StopSession
from common.docker import DockerHost, DockerSettings, WarmPool, sweep_owned
from common.docker_worker import DockerWorkerService
from common.packages import PlatformPrivateKey, TrustedKeys
from common.settings import PackageSettings, S3Settings
from session_svc.backend import BackendLink
from session_svc.launch import Env, limits_of
from session_svc.network import SessionNetworks
from session_svc.orphans import owner_of
from session_svc.settings import SessionSettings
from session_svc.worker import SessionWorker

log = structlog.get_logger(__name__)
JOB_EVENTS = "modelport.job.#"
M = TypeVar("M", StartSession, StopSession)


class SessionService(DockerWorkerService):
    """Serves ``system.ping`` on ``session.rpc``; runs the sessions backend asks for."""

    name = "session"
    rpc_queue: ClassVar[str] = topology.SESSION_RPC
    commands_queue: ClassVar[str] = topology.SESSION_COMMANDS

    def __init__(self, settings: SessionSettings, *, docker: DockerSettings | None = None,
                 s3: S3Settings | None = None, packages: PackageSettings | None = None):
        super().__init__(settings, docker=docker, s3=s3, packages=packages)
        self.settings: SessionSettings = settings
        self.worker_queue = topology.session_worker_queue(self.instance)
        self.worker: SessionWorker | None = None
        self._events: AbstractChannel | None = None
        self._following = asyncio.Event()  # commands wait for it: the worker exists

    async def start(self) -> None:
        """Start the sessions machinery, then take commands; raises when a part cannot start
        (unreadable platform key, S3, broker or Docker unreachable, firewall refused).
        Without a platform key the worker runs no sessions and says so in its log."""
        key = self.platform_key()
        if key is not None:
            await self._prepare(key)
        else:
            log.warning("sessions_disabled", reason="MODELPORT_PLATFORM_KEY_FILE is not set")
        await super().start()
        if key is not None:
            await self._follow()
            log.info("session_worker_ready", queue=self.worker_queue)
        self._following.set()

    async def _prepare(self, key: PlatformPrivateKey) -> None:
        s = self.settings
        storage, pool = await self.open_storage_and_hosts()
        networks = SessionNetworks(s.network, firewall=s.firewall)
        for host in pool.hosts:  # a host down now gets its network before its first launch
            if pool.healthy(host.name):
                await networks.ready(host)
        await self._sweep()
        self._env = Env(pool, self.open_warm_pools(), storage, key, s,
                        TrustedKeys.load_optional(self.package_settings.trusted_keys), networks)

    def warm_pool(self, host: DockerHost) -> WarmPool:
        return WarmPool(host, size=self.settings.warm_sessions, limits=limits_of(self.settings),
                        serve_cmd=self.settings.agent_command, network=self.settings.network,
                        owner=owner_of(self.instance))

    async def _follow(self) -> None:
        """The RPC client, the worker, its own queue and the job events."""
        assert self._connection is not None
        rpc_client = await self.open_rpc_client()
        self.worker = SessionWorker(self.instance, self._env,
                                    BackendLink(rpc_client, self.instance))
        self.worker.begin()
        await self.consume_own_queue(self._on_own)
        self._events = await self._connection.channel()
        await topology.declare_base(self._events)
        queue = await self._events.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(topology.EVENTS, routing_key=JOB_EVENTS)
        await queue.consume(self._on_job_event, no_ack=True)

    async def handle_command(self, message: AbstractIncomingMessage) -> None:
        """StartSession from ``session.commands``: acked once claimed here (or not ours)."""
        await self._following.wait()
        if self.worker is None or message.type != StartSession.TYPE:
            log.warning("session_command_ignored", type=message.type)
            return
        start = _read(message, StartSession, "session_command_invalid")
        if start is not None:
            await self.worker.start(start.session_id)

    async def _on_own(self, message: AbstractIncomingMessage) -> None:
        if self.worker is None or message.type != StopSession.TYPE:
            return
        stop = _read(message, StopSession, "session_stop_invalid")
        if stop is not None:
            self.worker.stop(stop.session_id, stop.attempt, stop.reason)

    async def _on_job_event(self, message: AbstractIncomingMessage) -> None:
        if self.worker is None:
            return
        with contextlib.suppress(ValueError, KeyError):
            await self.worker.job_news(json.loads(message.body)["data"])

    async def _sweep(self) -> None:
        """Remove the session and warm containers of an earlier life under this instance id
        (their agents lost their channel; backend restarts their sessions), never another
        replica's: those run its live sessions. What a dead replica of another id left is
        removed when its sessions start again (:mod:`session_svc.orphans`)."""
        assert self.pool is not None
        for host in self.pool.hosts:
            with contextlib.suppress(Exception):  # a host that is down is swept next start
                await sweep_owned(host, owner_of(self.instance))

    async def stop(self) -> None:
        """Stop taking sessions, stop the held ones (autosaved) in the grace period, close."""
        self._stopping = True
        if self._consumer is not None:  # no new session from here on (another replica takes it)
            await self._consumer.drain(self.settings.shutdown_grace_s)
            self._consumer = None
        await self.stop_own_queue()
        if self.worker is not None:
            await self.worker.close(self.settings.shutdown_grace_s)
        if self._events is not None:
            with contextlib.suppress(Exception):
                await self._events.close()
        await self.close_clients()
        await super().stop()


def _read(message: AbstractIncomingMessage, model: type[M], invalid: str) -> M | None:
    """The command in ``message``, or None (logged as ``invalid``) when it is malformed."""
    try:
        return model.model_validate_json(message.body)
    except ValidationError as exc:
        log.warning(invalid, error=str(exc))
        return None

