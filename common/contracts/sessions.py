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

from common.contracts.admin import HostLoad
from common.contracts.base import MAX_OFFSET, Contract, Principal
from common.contracts.cases import CASE_NAME_MAX, CaseOut
from common.contracts.jobs import BlobRef, JobOut

SessionState = Literal["requested", "starting", "ready", "stopping", "stopped", "failed", "lost"]
LIVE_STATES: tuple[str, ...] = ("requested", "starting", "ready", "stopping")
ENDED_STATES: frozenset[str] = frozenset({"stopped", "failed", "lost"})
HOST_DOWN = "host_down"  # the session's Docker host failed under it
WORKER_LOST = "worker_lost"  # the session's worker died (stopped reporting)
RESTART_REASONS: frozenset[str] = frozenset({HOST_DOWN, WORKER_LOST})
"""Reasons of a session restarted from its last autosave (kept on it once it runs again)."""
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


BOOT_FIELD = Field("", max_length=64, description="The worker process's start id (new per "
                   "process): a worker restarted under the same name does not hold the "
                   "sessions its earlier life claimed.")


class ClaimSession(Contract):
    worker: str
    session_id: str = Field(max_length=64)
    boot: str = BOOT_FIELD


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
    boot: str = BOOT_FIELD


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
