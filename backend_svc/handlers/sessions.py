"""RPC handlers of data sessions: the portal's (create, list, get, stop) and the session
workers' (claim, ready, failed, stopped, report, and the owner's acts). Another user's
session answers 404. Every method is declared in :mod:`common.contracts.sessions`.
"""

from __future__ import annotations

import asyncpg
import structlog

from backend_svc import jobs, policy, session_acts, session_workers, sessions
from backend_svc.handlers.base import PoolHandlers
from backend_svc.handlers.jobs import listed_owner, stop_worker
from backend_svc.policy import Action
from backend_svc.quotas import QuotaRules
from backend_svc.session_restarts import release_due
from backend_svc.sessions import FoundSession
from backend_svc.settings import BackendSettings
from common.amqp import topology
from common.amqp.publisher import Publisher
from common.contracts.base import Principal
from common.contracts.cases import CaseOut
from common.contracts.jobs import Accepted, JobOut
from common.contracts.method import implements
from common.contracts.methods import SessionMethods
from common.contracts.sessions import (
    ClaimSession,
    CreateSession,
    ListSessions,
    SessionCase,
    SessionCaseRef,
    SessionCases,
    SessionFailed,
    SessionJob,
    SessionJobRef,
    SessionLaunch,
    SessionList,
    SessionListCases,
    SessionOut,
    SessionReady,
    SessionRef,
    SessionSaveCase,
    SessionStopped,
    SessionSubmitJob,
    SessionWorkerReply,
    SessionWorkerReport,
    StartSession,
    StopSession,
)

log = structlog.get_logger(__name__)


def _authorize(actor: Principal, action: Action, found: FoundSession) -> None:
    policy.authorize_private(actor, action, Action.SESSION_READ, owner_id=found.user_id,
                             shared=False, what="session")


class SessionHandlers(PoolHandlers):
    """Serve with ``RpcServer.serve_all(handlers)``."""

    def __init__(self, pool: asyncpg.Pool, commands: Publisher, settings: BackendSettings):
        super().__init__(pool)
        self._commands = commands
        self._settings = settings
        self._rules = QuotaRules.of(settings)

    # --- portal ------------------------------------------------------------------------

    @implements(SessionMethods.CREATE)
    async def create(self, request: CreateSession) -> SessionOut:
        policy.authorize(request.actor, Action.SESSION_CREATE)
        s = self._settings
        session, made = await self._write(
            sessions.create, request.actor, request, rules=self._rules,
            claim_timeout_s=s.session_claim_timeout_s)
        if made:  # a replayed Idempotency-Key: its session was sent to the workers already
            await self._send(topology.SESSION_COMMANDS, StartSession(session_id=session.id),
                             f"{StartSession.TYPE}:{session.id}")
        return session

    @implements(SessionMethods.LIST)
    async def list_sessions(self, request: ListSessions) -> SessionList:
        actor = request.actor
        policy.authorize(actor, Action.SESSION_LIST)
        async with self._pool.acquire() as conn:
            user_id = await listed_owner(conn, actor, Action.SESSION_LIST_ALL, request.user)
            found, total = await sessions.list_sessions(
                conn, user_id=user_id, live=request.live, limit=request.limit,
                offset=request.offset)
        return SessionList(sessions=found, total=total)

    @implements(SessionMethods.GET)
    async def get(self, request: SessionRef) -> SessionOut:
        found = await self._read(sessions.find_session, request.session_id)
        _authorize(request.actor, Action.SESSION_READ, found)
        return found.session

    @implements(SessionMethods.STOP)
    async def stop(self, request: SessionRef) -> SessionOut:
        reason = "user" if request.actor.user_id else "admin"
        async with self._pool.acquire() as conn, conn.transaction():
            found = await sessions.find_session(conn, request.session_id, lock=True)
            _authorize(request.actor, Action.SESSION_STOP, found)
            if request.actor.is_admin and request.actor.user_id != found.user_id:
                reason = "admin"
            session = await sessions.stop(conn, request.actor, found, reason)
        if session.state == "stopping" and session.worker is not None:
            stop = StopSession(session_id=session.id, attempt=session.attempt, reason=reason)
            await self._send(topology.session_worker_queue(session.worker), stop,
                             f"{StopSession.TYPE}:{session.id}:{session.attempt}")
        return session

    async def _send(self, queue: str, message: StartSession | StopSession, id_: str) -> None:
        """Publish a command; a failure is only logged (the lease or report settles it)."""
        try:
            await self._commands.publish(message.model_dump_json().encode(), routing_key=queue,
                                         message_id=id_, message_type=message.TYPE)
        except Exception as exc:
            log.warning("session_command_not_sent", type=message.TYPE, error=repr(exc))

    # --- session workers ---------------------------------------------------------------

    @implements(SessionMethods.CLAIM)
    async def claim(self, request: ClaimSession) -> SessionLaunch:
        return await self._write(
            session_workers.claim, request, lease_ttl_s=self._settings.session_lease_ttl_s)

    @implements(SessionMethods.READY)
    async def ready(self, request: SessionReady) -> Accepted:
        current = await self._write(
            session_workers.ready, request, lease_ttl_s=self._settings.session_lease_ttl_s)
        return Accepted(current=current)

    @implements(SessionMethods.FAILED)
    async def failed(self, request: SessionFailed) -> Accepted:
        s = self._settings
        current = await self._write(
            session_workers.failed, request, claim_timeout_s=s.session_claim_timeout_s,
            restart_spacing_s=s.restart_spacing_s)
        if current and request.reason == session_workers.HOST_DOWN:  # restart it elsewhere
            try:  # now when its slot is now; else (or if this fails) the restarts duty does
                await release_due(self._pool, self._commands)
            except Exception as exc:
                log.warning("session_restart_not_sent", error=repr(exc))
        return Accepted(current=current)

    @implements(SessionMethods.STOPPED)
    async def stopped(self, request: SessionStopped) -> Accepted:
        return Accepted(current=await self._write(session_workers.stopped, request))

    @implements(SessionMethods.REPORT)
    async def report(self, request: SessionWorkerReport) -> SessionWorkerReply:
        return await self._write(
            session_workers.report, request, lease_ttl_s=self._settings.session_lease_ttl_s)

    # --- what a session asks, as its owner -----------------------------------------------

    @implements(SessionMethods.SAVE_CASE)
    async def save_case(self, request: SessionSaveCase) -> CaseOut:
        return await self._write(session_acts.save_case, request, self._rules)

    @implements(SessionMethods.OPEN_CASE)
    async def open_case(self, request: SessionCaseRef) -> SessionCase:
        return await self._read(session_acts.open_case, request)

    @implements(SessionMethods.LIST_CASES)
    async def list_cases(self, request: SessionListCases) -> SessionCases:
        return await self._read(session_acts.list_cases, request)

    @implements(SessionMethods.SUBMIT_JOB)
    async def submit_job(self, request: SessionSubmitJob) -> JobOut:
        s = self._settings
        return await self._write(
            session_acts.submit_job, request, default_memory_mb=s.default_memory_mb,
            max_attempts=s.max_attempts, rules=self._rules)

    @implements(SessionMethods.JOB)
    async def job(self, request: SessionJobRef) -> SessionJob:
        return await self._read(session_acts.job, request, request.job_id)

    @implements(SessionMethods.CANCEL_JOB)
    async def cancel_job(self, request: SessionJobRef) -> JobOut:
        async with self._pool.acquire() as conn, conn.transaction():
            who, found = await session_acts.owned_job(conn, request, request.job_id, lock=True)
            job = await jobs.cancel(conn, who.owner, found)
        await stop_worker(self._commands, job, "cancel")
        return job
