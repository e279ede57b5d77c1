"""What a session worker says to backend: the methods of :mod:`common.contracts.sessions`.

Each call raises what ``RpcClient.call_method`` raises (RpcTimeout, Unavailable, the server's
ModelportError), and BrokerUnavailable (``broker_unavailable``) while the broker link is down.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from common.amqp.rpc import LINK_ERRORS, RpcClient
from common.contracts.admin import HostLoad
from common.contracts.cases import CaseOut
from common.contracts.jobs import BlobRef, JobOut
from common.contracts.method import Method, Rep, Req
from common.contracts.methods import SessionMethods
from common.contracts.sessions import (
    ClaimSession,
    HeldSession,
    SessionCase,
    SessionCaseRef,
    SessionCases,
    SessionFailed,
    SessionJob,
    SessionJobRef,
    SessionLaunch,
    SessionListCases,
    SessionReady,
    SessionSaveCase,
    SessionStopped,
    SessionSubmitJob,
    SessionWorkerReply,
    SessionWorkerReport,
)
from common.errors import BrokerUnavailable


@dataclass
class Held:
    """A session this worker holds: who it acts for is decided by backend from these."""

    worker: str
    session_id: str
    attempt: int
    autosave_case_id: str | None = None

    def who(self) -> dict[str, Any]:
        return {"worker": self.worker, "session_id": self.session_id, "attempt": self.attempt}


class BackendLink:
    def __init__(self, rpc: RpcClient, worker: str) -> None:
        self._rpc, self.worker = rpc, worker
        self.boot = uuid.uuid4().hex  # this process's life: sent with every report

    async def _call(self, method: Method[Req, Rep], request: Req) -> Rep:
        try:
            return await self._rpc.call_method(method, request)
        except LINK_ERRORS as exc:
            raise BrokerUnavailable(detail="the link to it is down") from exc

    async def claim(self, session_id: str) -> SessionLaunch:
        return await self._call(SessionMethods.CLAIM, ClaimSession(
            worker=self.worker, session_id=session_id, boot=self.boot))

    async def ready(self, held: Held, host: str, endpoint: str) -> bool:
        msg = SessionReady(**held.who(), host=host, endpoint=endpoint)
        return (await self._call(SessionMethods.READY, msg)).current

    async def failed(self, held: Held, reason: str, message: str) -> bool:
        msg = SessionFailed(**held.who(), reason=reason, message=message[:2000])
        return (await self._call(SessionMethods.FAILED, msg)).current

    async def stopped(self, held: Held, reason: str) -> bool:
        msg = SessionStopped(**held.who(), reason=reason,
                             autosave_case_id=held.autosave_case_id)
        return (await self._call(SessionMethods.STOPPED, msg)).current

    async def report(self, sessions: list[HeldSession],
                     hosts: list[HostLoad] | None = None) -> SessionWorkerReply:
        return await self._call(SessionMethods.REPORT, SessionWorkerReport(
            worker=self.worker, sessions=sessions, hosts=hosts or [], boot=self.boot))

    async def save_case(self, held: Held, *, name: str, blob: BlobRef, case_id: str | None,
                        autosave: bool) -> CaseOut:
        return await self._call(SessionMethods.SAVE_CASE, SessionSaveCase(
            **held.who(), name=name, blob=blob, case_id=case_id, autosave=autosave))

    async def open_case(self, held: Held, case_id: str) -> SessionCase:
        return await self._call(SessionMethods.OPEN_CASE,
                                SessionCaseRef(**held.who(), case_id=case_id))

    async def list_cases(self, held: Held) -> SessionCases:
        return await self._call(SessionMethods.LIST_CASES, SessionListCases(**held.who()))

    async def submit_job(self, held: Held, *, procedure: str, blob: BlobRef,
                         options: dict[str, Any]) -> JobOut:
        return await self._call(SessionMethods.SUBMIT_JOB, SessionSubmitJob(
            **held.who(), procedure=procedure, blob=blob, options=options))

    async def job(self, held: Held, job_id: str) -> SessionJob:
        return await self._call(SessionMethods.JOB, SessionJobRef(**held.who(), job_id=job_id))

    async def cancel_job(self, held: Held, job_id: str) -> JobOut:
        return await self._call(SessionMethods.CANCEL_JOB,
                                SessionJobRef(**held.who(), job_id=job_id))
