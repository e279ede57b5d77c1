"""Contracts of the sessions family: data sessions as users see them (portal ↔ backend) and
as session workers run them (session_svc ↔ backend).

Session states: requested → starting → ready → stopping → stopped, or failed / lost (the
lease expired). ``reason`` says why a session failed, was lost or stopped (``user``,
``idle``, ``limit``, ``admin``…). Every worker message names the ``attempt`` it is about; a
message of another attempt, or from a worker the session is not assigned to, changes nothing.

What a session asks of the platform (save a case, submit a job…) goes through session_svc
with the session-scoped methods below: backend acts as the session's owner, and only for a
session the calling worker holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from common.amqp import topology
from common.contracts.admin import HostLoad
from common.contracts.base import MAX_OFFSET, Contract, Principal
from common.contracts.cases import CASE_NAME_MAX, CaseOut
from common.contracts.jobs import Accepted, BlobRef, JobOut
from common.contracts.method import PORTAL, SESSION_WORKER, Method

SessionState = Literal["requested", "starting", "ready", "stopping", "stopped", "failed", "lost"]
LIVE_STATES: tuple[str, ...] = ("requested", "starting", "ready", "stopping")
ENDED_STATES: frozenset[str] = frozenset({"stopped", "failed", "lost"})
WORKER = "worker"
"""The rule of methods only session workers send (no end-user actor)."""


class SessionOut(Contract):
    id: str
    user: str
    app: str
    app_version: str
    state: SessionState
    reason: str | None
    message: str | None  # what the user is told about a failure, in a sentence
    attempt: int
    worker: str | None
    host: str | None
    endpoint: str | None  # where the proxy reaches the agent (internal; never shown)
    case_id: str | None  # the case it was opened from
    autosave_case_id: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    last_activity_at: datetime | None


class CreateSession(Contract):
    actor: Principal
    app: str = Field(min_length=1, max_length=100)
    version: str | None = Field(None, max_length=100)  # None: the active version
    case_id: str | None = Field(None, max_length=64)  # None: the app's default data
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=200,
        description="The client's Idempotency-Key: the same key and request give the same "
        "session.")


class SessionRef(Contract):
    actor: Principal
    session_id: str = Field(max_length=64)


class ListSessions(Contract):
    actor: Principal
    live: bool = False  # only requested/starting/ready/stopping
    user: str | None = Field(None, max_length=100)  # admins only; users see their own
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class SessionList(Contract):
    sessions: list[SessionOut]
    total: int


# --- backend → session_svc (commands) ----------------------------------------------------


class StartSession(Contract):
    """Backend → any session worker (``session.commands``): claim and launch this session."""

    TYPE: ClassVar[str] = "session.start"
    session_id: str


class StopSession(Contract):
    """Backend → the worker holding the session (its own queue): autosave and stop."""

    TYPE: ClassVar[str] = "session.stop"
    session_id: str
    attempt: int
    reason: str


# --- session_svc → backend ---------------------------------------------------------------


class ClaimSession(Contract):
    worker: str
    session_id: str = Field(max_length=64)


class SessionLaunch(Contract):
    """What a worker needs to launch a session it claimed (``current`` False: not its own)."""

    current: bool
    session_id: str = ""
    attempt: int = 0
    owner: Principal | None = None
    app: str = ""
    app_version: str = ""
    app_package: BlobRef | None = None
    runtime_version: str = ""
    runtime_package: BlobRef | None = None
    runtime_image_digest: str = ""
    case: BlobRef | None = None  # the case to open (the autosave of a lost session, …)
    case_id: str | None = None
    case_name: str | None = None
    autosave_case_id: str | None = None
    lease_ttl_s: float = 30.0


class SessionReady(Contract):
    worker: str
    session_id: str
    attempt: int
    host: str
    endpoint: str = Field(max_length=500)


class SessionFailed(Contract):
    worker: str
    session_id: str
    attempt: int
    reason: str = Field(max_length=100)
    message: str = Field("", max_length=2000)


class SessionStopped(Contract):
    worker: str
    session_id: str
    attempt: int
    reason: str = Field("", max_length=100)
    autosave_case_id: str | None = None


class HeldSession(Contract):
    session_id: str
    attempt: int
    idle_s: float | None = None  # since a page last asked anything (None: unknown)


class SessionWorkerReport(Contract):
    """Heartbeat: renews the lease of each held session; stores each one's idle time."""

    worker: str
    sessions: list[HeldSession]
    hosts: list[HostLoad] = Field(default_factory=list, max_length=1000)  # its hosts' load


class SessionWorkerReply(Contract):
    stop: list[StopSession]
    drained: list[str] = Field(default_factory=list)  # hosts an admin drained: place no work


class ActAs(Contract):
    """The session on whose behalf a worker asks (backend acts as its owner)."""

    worker: str
    session_id: str
    attempt: int


class SessionSaveCase(ActAs):
    """Register a case the worker stored at ``blob``; overwrite ``case_id`` (the owner's, of
    the same app) when given, else a new case."""

    name: str = Field(min_length=1, max_length=CASE_NAME_MAX)
    blob: BlobRef
    case_id: str | None = Field(None, max_length=64)
    autosave: bool = False


class SessionCaseRef(ActAs):
    case_id: str = Field(max_length=64)


class SessionCase(Contract):
    case: CaseOut
    blob: BlobRef


class SessionCases(Contract):
    cases: list[CaseOut]
    autosave_case_id: str | None


class SessionListCases(ActAs):
    pass


class SessionSubmitJob(ActAs):
    """Run ``procedure`` on ``blob`` (the session's current data) as a job of the owner."""

    procedure: str = Field(min_length=1, max_length=100)
    blob: BlobRef
    options: dict[str, Any] = Field(default_factory=dict)


class SessionJobRef(ActAs):
    job_id: str = Field(max_length=64)


class SessionJob(Contract):
    job: JobOut
    output: BlobRef | None  # the result case, once the job succeeded


class SessionEvent(Contract):
    """Data of every ``modelport.session.*`` event."""

    REQUESTED: ClassVar[str] = "modelport.session.requested"
    READY: ClassVar[str] = "modelport.session.ready"
    STOPPED: ClassVar[str] = "modelport.session.stopped"
    FAILED: ClassVar[str] = "modelport.session.failed"
    LOST: ClassVar[str] = "modelport.session.lost"
    session_id: str
    user: str
    app: str
    attempt: int
    state: SessionState
    reason: str | None = None
    message: str | None = None


EVENTS: list[tuple[str, str]] = [
    (SessionEvent.REQUESTED, "A user asked for a data session; a session worker will start it."),
    (SessionEvent.READY, "A data session's agent answers; the user can open it."),
    (SessionEvent.STOPPED, "A data session stopped (reason: user, idle, limit, admin…)."),
    (SessionEvent.FAILED, "A data session could not start (reason and message say why)."),
    (SessionEvent.LOST, "A data session's lease expired (its container or worker died)."),
]


def _m(name: str, request: type[Any], reply: type[Any], rule: str, summary: str,
       caller: str = PORTAL) -> Method[Any, Any]:
    return Method(name, request, reply, topology.BACKEND_RPC, rule, summary, (caller,))


def _w(name: str, request: type[Any], reply: type[Any], summary: str) -> Method[Any, Any]:
    return _m(name, request, reply, WORKER, summary, SESSION_WORKER)


CREATE = _m("sessions.create", CreateSession, SessionOut, "session.create",
            "Request a data session of an app (404 unknown_app / not_found case, 400 "
            "case_app_mismatch, 429 quota_exceeded).")
LIST = _m("sessions.list", ListSessions, SessionList, "session.list",
          "One's own sessions (admins: everyone's), newest first.")
GET = _m("sessions.get", SessionRef, SessionOut, "session.read",
         "One session (another user's: 404).")
STOP = _m("sessions.stop", SessionRef, SessionOut, "session.stop",
          "Stop a session: autosave, then stop (another user's: 404).")
CLAIM = _w("sessions.claim", ClaimSession, SessionLaunch,
           "A worker takes a requested session (current=false: someone else has it).")
READY = _w("sessions.ready", SessionReady, Accepted, "A session's agent answers at endpoint.")
FAILED = _w("sessions.failed", SessionFailed, Accepted, "A session could not start or died.")
STOPPED = _w("sessions.stopped", SessionStopped, Accepted, "A session stopped (idempotent).")
REPORT = _w("sessions.report", SessionWorkerReport, SessionWorkerReply,
            "Heartbeat of a session worker; the reply lists sessions to stop.")
SAVE_CASE = _w("sessions.save_case", SessionSaveCase, CaseOut,
               "Register a case saved by a session, owned by its owner.")
OPEN_CASE = _w("sessions.open_case", SessionCaseRef, SessionCase,
               "A case the session's owner may read, of the session's app.")
LIST_CASES = _w("sessions.list_cases", SessionListCases, SessionCases,
                "The owner's cases of the session's app.")
SUBMIT_JOB = _w("sessions.submit_job", SessionSubmitJob, JobOut,
                "Submit a job on the session's data, as its owner.")
JOB = _w("sessions.job", SessionJobRef, SessionJob, "A job of the session's owner.")
CANCEL_JOB = _w("sessions.cancel_job", SessionJobRef, JobOut,
                "Cancel a job of the session's owner.")

METHODS: list[Method[Any, Any]] = [
    CREATE, LIST, GET, STOP, CLAIM, READY, FAILED, STOPPED, REPORT, SAVE_CASE, OPEN_CASE,
    LIST_CASES, SUBMIT_JOB, JOB, CANCEL_JOB,
]
