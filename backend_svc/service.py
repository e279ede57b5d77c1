"""backend_svc: the only process that opens PostgreSQL.

Start order: database (created when missing) → migrations → bootstrap admin → AMQP →
outbox relay → job scheduler and lease reaper → session reaper and session restarts → RPC
server → status server (``/healthz``, ``/readyz``, ``/metrics``). Stop runs the reverse: stop
taking RPCs and let those in flight finish, stop the duties and the relay, then close the
broker and the pool.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import structlog
from aio_pika.abc import AbstractRobustConnection

from backend_svc import db, policy, users
from backend_svc.accounts import Accounts
from backend_svc.dispatch import JobDuties
from backend_svc.duty import ExclusiveDuty
from backend_svc.handlers.admin import AdminHandlers
from backend_svc.handlers.cases import CaseHandlers
from backend_svc.handlers.groups import GroupHandlers
from backend_svc.handlers.jobs import JobHandlers
from backend_svc.handlers.oidc import OidcHandlers
from backend_svc.handlers.quotas import QuotaHandlers
from backend_svc.handlers.registry import RegistryHandlers
from backend_svc.handlers.sessions import SessionHandlers
from backend_svc.handlers.tokens import TokenHandlers
from backend_svc.handlers.users import UserHandlers
from backend_svc.metrics import BackendGauges
from backend_svc.migrations import apply_migrations, load_migrations
from backend_svc.oidc import OidcPolicy, OidcSignIn
from backend_svc.passwords import PasswordWork, hash_password
from backend_svc.position_cache import PositionCache
from backend_svc.queue import Positions, queue_positions
from backend_svc.quotas import QuotaRules
from backend_svc.relay import OutboxRelay
from backend_svc.session_restarts import RESTARTS_LOCK, release_due
from backend_svc.session_workers import SESSION_REAPER_LOCK, Reaping, reap_sessions
from backend_svc.settings import BackendSettings
from backend_svc.signin import LockoutPolicy, SignIn
from common.amqp import topology
from common.amqp.connection import connect
from common.amqp.publisher import Publisher
from common.amqp.rpc import RpcServer
from common.contracts.base import Principal
from common.errors import Conflict
from common.health import StatusServer
from common.metrics import QueueDepths, ServiceMetrics
from common.ping import serve_ping

log = structlog.get_logger(__name__)


def rpc_handlers(
    pool: asyncpg.Pool, settings: BackendSettings, commands: Publisher, wake: Callable[[], None],
    signin: SignIn, accounts: Accounts, positions: Positions = queue_positions,
) -> list[object]:
    """The owners of every ``@implements`` handler backend serves on ``BACKEND_RPC``
    (``positions``: how the jobs list reads queue positions)."""
    rules = QuotaRules.of(settings)
    return [UserHandlers(pool, signin=signin, accounts=accounts), TokenHandlers(pool, settings),
            RegistryHandlers(pool), CaseHandlers(pool, rules), GroupHandlers(pool),
            JobHandlers(pool, commands, settings, wake, positions),
            SessionHandlers(pool, commands, settings),
            QuotaHandlers(pool, rules), AdminHandlers(pool, settings),
            OidcHandlers(OidcSignIn(pool, OidcPolicy(
                settings.oidc_create_users, settings.oidc_group_map,
                timedelta(hours=settings.token_ttl_h))))]


class BackendService:
    name = "backend"

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.instance = settings.instance_id or f"backend-{os.getpid()}"
        self._stack = contextlib.AsyncExitStack()
        self.pool: asyncpg.Pool | None = None
        self._connection: AbstractRobustConnection | None = None
        self.relay: OutboxRelay | None = None
        self.jobs: JobDuties | None = None
        self.positions: PositionCache | None = None
        self._rpc: RpcServer | None = None
        self.status: StatusServer | None = None
        self._stopping = False
        self.metrics = ServiceMetrics(self.name)
        QueueDepths(self.metrics, lambda: self._connection,
                    lambda: [topology.BACKEND_RPC, topology.DEAD_LETTER_QUEUE])

    async def start(self) -> None:
        s = self.settings
        dsn = s.database_url.get_secret_value()
        await db.ensure_database(dsn, deadline_s=s.connect_deadline_s)
        self.pool = await db.create_pool(dsn, max_size=s.db_pool_max,
                                         deadline_s=s.connect_deadline_s)
        self._stack.push_async_callback(self.pool.close)
        BackendGauges(self.metrics, self.pool)
        async with self.pool.acquire() as conn:
            await apply_migrations(conn, load_migrations())
        await self._bootstrap_admin()
        self._connection = await connect(
            s.amqp_url.get_secret_value(), deadline_s=s.connect_deadline_s, name=self.instance
        )
        self._stack.push_async_callback(self._connection.close)
        publisher = Publisher(self._connection, topology.EVENTS)
        await publisher.start()
        self._stack.push_async_callback(publisher.stop)
        self.relay = OutboxRelay(dsn, self.pool, publisher, batch=s.outbox_batch,
                                 poll_s=s.outbox_poll_s)
        await self.relay.start()
        self._stack.push_async_callback(self.relay.stop)
        commands = Publisher(self._connection, topology.COMMANDS)
        await commands.start()
        self._stack.push_async_callback(commands.stop)
        self.jobs = JobDuties(self.pool, dsn, commands, s)
        await self.jobs.start()
        self._stack.push_async_callback(self.jobs.stop)
        pool = self.pool
        reaping = Reaping(s.session_lease_ttl_s, s.session_claim_timeout_s,
                          s.restart_spacing_s)
        session_reaper = ExclusiveDuty(
            "session-reaper", dsn, SESSION_REAPER_LOCK, lambda: reap_sessions(pool, reaping),
            interval_s=min(s.scheduler_interval_s, s.session_lease_ttl_s / 2))
        await session_reaper.start()
        self._stack.push_async_callback(session_reaper.stop)
        spacing_s = s.restart_spacing_s
        session_restarts = ExclusiveDuty(
            "session-restarts", dsn, RESTARTS_LOCK, lambda: release_due(pool, commands),
            interval_s=min(s.scheduler_interval_s, spacing_s / 4 if spacing_s > 0 else 1.0))
        await session_restarts.start()
        self._stack.push_async_callback(session_restarts.stop)
        work = PasswordWork(s.password_workers, s.password_queue)
        self._stack.callback(work.close)
        signin = SignIn(self.pool, work, LockoutPolicy(
            s.login_lockout_after, s.login_lockout_base_s, s.login_lockout_max_s),
            token_ttl=timedelta(hours=s.token_ttl_h))
        self.positions = PositionCache(dsn)
        await self.positions.start()
        self._stack.push_async_callback(self.positions.stop)
        self._rpc = RpcServer(self._connection, topology.BACKEND_RPC, prefetch=s.amqp_prefetch,
                              metrics=self.metrics.rpc_server, guard=policy.guard,
                              translate=db.unavailable,
                              roles=s.broker_roles)
        serve_ping(self._rpc, self.name, self.instance)
        self._rpc.serve_all(*rpc_handlers(self.pool, s, commands, self.jobs.wake, signin,
                                          Accounts(self.pool, work),
                                          self.positions.positions))
        await self._rpc.start()
        self._stack.push_async_callback(self._rpc.drain, s.shutdown_grace_s)
        self.status = StatusServer(self.name, self.readiness, host=s.status_host,
                                   port=s.status_port, metrics=self.metrics)
        await self.status.start()
        self._stack.push_async_callback(self.status.stop)
        log.info("backend_ready", status_port=self.status.port)

    async def stop(self) -> None:
        """Stop taking RPCs (readiness turns 503) and finish those in flight, then close
        everything in the reverse order of start."""
        self._stopping = True
        if self._rpc is not None:
            await self._rpc.drain(self.settings.shutdown_grace_s)
        await self._stack.aclose()

    async def readiness(self) -> dict[str, bool]:
        database = False
        if self.pool is not None:
            with contextlib.suppress(Exception):
                database = await self.pool.fetchval("SELECT 1") == 1
        broker = self._connection is not None and not self._connection.is_closed
        return {"database": database, "broker": broker, "accepting": not self._stopping}

    async def _bootstrap_admin(self) -> None:
        """Create the configured admin at first start; an existing account is left alone."""
        s = self.settings
        password = s.admin_password.get_secret_value()
        if not s.admin_user or not password:
            return
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            if await users.find_user(conn, s.admin_user) is not None:
                return
        password_hash = await hash_password(password)  # argon2 outside the transaction
        async with self.pool.acquire() as conn, conn.transaction():
            with contextlib.suppress(Conflict):
                await users.create_user(conn, Principal.SYSTEM, username=s.admin_user,
                                        password_hash=password_hash, role="admin")
                log.info("bootstrap_admin_created", username=s.admin_user)
