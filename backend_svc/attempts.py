"""What a solve worker reports about one attempt of a job: started, progress, finished.

An attempt is *current* while its job is scheduled or running, on that attempt number, and
assigned to the reporting worker. Each function returns False and changes nothing for any
other attempt (stale, another worker's, or the job already finished), so every report is
idempotent: a second "finished" for the same attempt finds the job terminal and does nothing.
"""

from __future__ import annotations

import uuid

import asyncpg

from backend_svc import cases, leases
from backend_svc.changes import parse_uuid, record_change
from backend_svc.jobs import ACTIVE_STATES, JOB_SELECT, job_event, job_from_row
from backend_svc.outbox import record_event
from common.contracts.base import Principal
from common.contracts.cases import RegisterCase
from common.contracts.jobs import BlobRef, JobEvent, JobFinished, JobProgress, JobStarted

# A worker that could not run the attempt (no host capacity after all, Docker or S3 failing:
# ``infrastructure``; its Docker host failed under it: ``host_down``) hands it back: the job
# is lost and queued again, like a lost lease, instead of failing.
RETRYABLE_REASONS = frozenset({"infrastructure", "host_down"})
_OUTCOME_EVENTS = {"succeeded": JobEvent.SUCCEEDED, "failed": JobEvent.FAILED,
                   "cancelled": JobEvent.CANCELLED}


def worker_principal(worker: str) -> Principal:
    return Principal(username=f"worker:{worker}", system=True, is_admin=True)


async def current_row(
    conn: asyncpg.Connection, worker: str, job_id: str, attempt: int
) -> asyncpg.Record | None:
    """The job's row, locked, when (``job_id``, ``attempt``) is current on ``worker``."""
    parsed = parse_uuid(job_id)
    row = None if parsed is None else await conn.fetchrow(
        f"{JOB_SELECT} WHERE j.id = $1 FOR UPDATE OF j", parsed
    )
    if row is None or row["state"] not in ACTIVE_STATES:
        return None
    if row["attempt"] != attempt or row["worker"] != worker:
        return None
    return row


async def started(conn: asyncpg.Connection, msg: JobStarted, *, lease_ttl_s: float) -> bool:
    """scheduled → running (event started); a repeated "started" only renews the lease."""
    row = await current_row(conn, msg.worker, msg.job_id, msg.attempt)
    if row is None:
        return False
    await conn.execute(
        "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, now()), "
        "lease_expires_at = now() + make_interval(secs => $2), updated_at = now() "
        "WHERE id = $1", row["id"], lease_ttl_s,
    )
    if row["state"] == "scheduled":
        job = job_from_row(row).model_copy(update={"state": "running"})
        await record_change(conn, worker_principal(msg.worker), "job.start", subject=job.id,
                            event_type=JobEvent.STARTED, event=job_event(job))
    return True


async def progress(
    conn: asyncpg.Connection, msg: JobProgress, *, lease_ttl_s: float, event_interval_s: float
) -> bool:
    """Store the progress; event progress when the job's last one is ``event_interval_s`` old.

    The rate limit lives in the row (``progress_event_at``), so it holds across replicas.
    Progress is not audited (it is not a change anyone made).
    """
    row = await current_row(conn, msg.worker, msg.job_id, msg.attempt)
    if row is None:
        return False
    emit = await conn.fetchval(
        "UPDATE jobs SET progress = coalesce($2, progress), progress_message = $3, "
        "lease_expires_at = now() + make_interval(secs => $4), updated_at = now(), "
        "progress_event_at = CASE WHEN progress_event_at IS NULL OR progress_event_at <= "
        "now() - make_interval(secs => $5) THEN now() ELSE progress_event_at END "
        "WHERE id = $1 RETURNING progress_event_at = now()",
        row["id"], msg.fraction, msg.message, lease_ttl_s, event_interval_s,
    )
    if emit:
        event = job_event(job_from_row(row), fraction=msg.fraction, message=msg.message)
        await record_event(conn, JobEvent.PROGRESS, event.model_dump(mode="json"),
                           subject=msg.job_id)
    return True


async def finished(conn: asyncpg.Connection, msg: JobFinished, *,
                   restart_spacing_s: float = 0.0) -> bool:
    """running/scheduled → the reported outcome, with the output case registered as a case
    of the job's user; event succeeded / failed / cancelled. A failure of a RETRYABLE_REASON
    is a loss instead (event lost, re-queued paced by ``restart_spacing_s``)."""
    row = await current_row(conn, msg.worker, msg.job_id, msg.attempt)
    if row is None:
        return False
    if msg.outcome == "failed" and msg.reason in RETRYABLE_REASONS:
        await leases.lose(conn, job_from_row(row), msg.reason,  # the platform's fault: retry
                          restart_spacing_s=restart_spacing_s)
        return True
    output_id = None
    if msg.output_case is not None:
        output_id = await _register_output(conn, row, msg.output_case)
    reason = msg.reason or ("cancelled" if msg.outcome == "cancelled" else None)
    await conn.execute(
        "UPDATE jobs SET state = $2, reason = $3, interrupted = $4, output_case_id = $5, "
        "log_s3_key = $6, lineage = $7, finished_at = now(), lease_expires_at = NULL, "
        "updated_at = now() WHERE id = $1",
        row["id"], msg.outcome, reason,
        msg.interrupted, output_id, msg.log.s3_key if msg.log else None, msg.lineage,
    )
    job = job_from_row(row).model_copy(update={
        "state": msg.outcome, "reason": reason, "interrupted": msg.interrupted,
        "output_case_id": None if output_id is None else str(output_id)})
    await record_change(conn, worker_principal(msg.worker), f"job.{msg.outcome}",
                        subject=job.id, event_type=_OUTCOME_EVENTS[msg.outcome],
                        event=job_event(job))
    return True


async def _register_output(
    conn: asyncpg.Connection, row: asyncpg.Record, blob: BlobRef
) -> uuid.UUID:
    """Register the result as a case owned by the job's user; return its id."""
    owner = Principal(user_id=str(row["user_id"]), username=row["username"])
    request = RegisterCase(
        actor=owner, case_id=str(uuid.uuid4()), app=row["app"],
        app_version=row["app_version"], name=f"{row['procedure']} result {str(row['id'])[:8]}",
        s3_key=blob.s3_key, sha256=blob.sha256, size_bytes=blob.size_bytes,
    )
    case = await cases.register_case(conn, owner, request)
    return uuid.UUID(case.id)
