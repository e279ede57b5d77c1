"""Contracts of the jobs family: submitting and watching solve jobs (portal ↔ backend) and
running them (backend ↔ solve_svc).

Job states: queued → scheduled → running → succeeded | failed | cancelled, and lost (a lease
expired; re-queued up to ``max_attempts``). Every message about a running job names its
``attempt``: a message of an older attempt changes nothing (completion is idempotent per
attempt).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from common.contracts.admin import HostLoad
from common.contracts.base import MAX_OFFSET, Contract, Principal

JobState = Literal["queued", "scheduled", "running", "succeeded", "failed", "cancelled", "lost"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
FailReason = Literal[
    "timeout", "oom", "app_exception", "invalid_data", "bad_app", "unknown_procedure",
    "retries_exhausted", "infrastructure", "internal", "disk_full", "bad_transfer",
]


AttemptFile = Literal["log", "result", "checkpoint"]


def attempt_key(job_id: str, attempt: int, name: AttemptFile) -> str:
    """The S3 key of an attempt's log, result or newest checkpoint:
    ``jobs/{job_id}/attempts/{attempt}/{name}``.

    The one place this is spelled: the solve worker writes there, backend keeps the winning
    attempt's keys on the job (``JobOut.log_s3_key``) and the portal reads what the job names.
    Per attempt, so a zombie attempt (lease lost, job re-run) cannot overwrite the winner's.
    """
    return f"jobs/{job_id}/attempts/{attempt}/{name}"


class JobOut(Contract):
    id: str
    user: str
    app: str
    app_version: str
    procedure: str
    state: JobState
    reason: str | None
    priority: int
    attempt: int
    max_attempts: int
    time_limit_s: int | None
    memory_mb: int | None
    not_before: datetime | None
    input_case_id: str | None
    output_case_id: str | None
    progress: float | None
    progress_message: str | None
    interrupted: bool
    queue_position: int | None = Field(description="Among queued jobs, 1 = next.")
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    log_s3_key: str | None = None  # the winning attempt's log; internal (not in the REST API)


class SubmitJob(Contract):
    actor: Principal
    app: str = Field(min_length=1, max_length=100, description="The app to run.")
    version: str | None = Field(None, max_length=100, description="Default: the active one.")
    procedure: str = Field("solve", min_length=1, max_length=100)
    input_case_id: str | None = Field(
        None, max_length=64, description="The case to run on; default: the app's default data."
    )
    priority: int = Field(0, ge=-10, le=10, description="Higher runs first.")
    time_limit_s: int | None = Field(None, ge=1, le=7 * 24 * 3600)
    memory_mb: int | None = Field(None, ge=64, le=256 * 1024)
    not_before: datetime | None = Field(None, description="Wait in the queue until then.")
    options: dict[str, Any] = Field(default_factory=dict, description="Passed to the procedure.")
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=200,
        description="The client's Idempotency-Key: the same key and request give the same job.")


class JobRef(Contract):
    actor: Principal
    job_id: str = Field(max_length=64)


class ListJobs(Contract):
    actor: Principal
    state: JobState | None = Field(None, description="Only jobs in this state.")
    app: str | None = Field(None, max_length=100, description="Only jobs of this app.")
    user: str | None = Field(None, max_length=100, description="Only this user's (admins).")
    limit: int = Field(50, ge=1, le=500, description="Jobs per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Jobs to skip.")


class JobList(Contract):
    jobs: list[JobOut]
    total: int


# --- backend ↔ solve_svc ------------------------------------------------------------------


class BlobRef(Contract):
    s3_key: str
    sha256: str
    size_bytes: int


class RunJob(Contract):
    """Backend → a solve worker (its own queue): run this attempt now."""

    TYPE: ClassVar[str] = "job.run"
    job_id: str
    attempt: int
    app: str
    app_version: str
    app_package: BlobRef
    runtime_version: str
    runtime_package: BlobRef
    runtime_image_digest: str
    procedure: str
    input_case: BlobRef | None
    options: dict[str, Any]
    time_limit_s: int | None
    memory_mb: int
    lease_ttl_s: float


class StopJob(Contract):
    """Backend → the worker running an attempt: cancel (kill) or interrupt (keep best)."""

    TYPE: ClassVar[str] = "job.stop"
    job_id: str
    attempt: int
    mode: Literal["cancel", "interrupt"]


class ForeignContainer(Contract):
    """A job or warm container another solve worker made, seen on one of our Docker hosts."""

    name: str
    owner_worker: str  # "" for a container made before owner labels existed
    job_id: str | None = None  # None: an idle warm container
    attempt: int = 0


class WorkerReport(Contract):
    """Solve worker → backend, periodically: capacity and the attempts it holds (heartbeat).

    Backend renews the lease of each listed attempt and answers with the attempts the worker
    should stop (cancelled meanwhile, or no longer its own), and which ``foreign`` containers
    are orphans the worker may remove (their attempt is no longer leased, or their idle
    owner stopped reporting)."""

    worker: str
    slots_total: int
    slots_free: int
    running: list[tuple[str, int]]  # (job_id, attempt)
    foreign: list[ForeignContainer] = Field(default_factory=list, max_length=1000)
    hosts: list[HostLoad] = Field(default_factory=list, max_length=1000)  # its hosts' load


class WorkerReportReply(Contract):
    stop: list[StopJob]
    reclaim: list[str] = Field(default_factory=list)  # names of foreign containers to remove
    drained: list[str] = Field(default_factory=list)  # hosts an admin drained: place no work


class JobStarted(Contract):
    worker: str
    job_id: str
    attempt: int


class JobProgress(Contract):
    worker: str
    job_id: str
    attempt: int
    fraction: float | None = Field(None, ge=0, le=1)
    message: str = Field("", max_length=500)
    incumbent: float | None = None
    bound: float | None = None


class JobFinished(Contract):
    worker: str
    job_id: str
    attempt: int
    outcome: Literal["succeeded", "failed", "cancelled"]
    reason: str | None = None
    interrupted: bool = False
    output_case: BlobRef | None = None
    log: BlobRef | None = None
    lineage: dict[str, Any] = Field(default_factory=dict)


class Accepted(Contract):
    """Reply to a worker's message: ``current`` is False when the attempt is stale (the job
    moved on); the worker then stops that attempt and keeps nothing of it."""

    current: bool


class JobEvent(Contract):
    """Data of every ``modelport.job.*`` event (progress rate-limited by backend)."""

    QUEUED: ClassVar[str] = "modelport.job.queued"
    STARTED: ClassVar[str] = "modelport.job.started"
    PROGRESS: ClassVar[str] = "modelport.job.progress"
    SUCCEEDED: ClassVar[str] = "modelport.job.succeeded"
    FAILED: ClassVar[str] = "modelport.job.failed"
    CANCELLED: ClassVar[str] = "modelport.job.cancelled"
    LOST: ClassVar[str] = "modelport.job.lost"
    job_id: str
    user: str
    app: str
    attempt: int
    state: JobState
    reason: str | None = None
    fraction: float | None = None
    message: str | None = None
    interrupted: bool = False
