"""Solve jobs as users see them: submit, list, get, cancel, interrupt.

Each function runs on a connection the caller provides; those that change state expect the
caller's transaction, so the row, its audit entry and its outbox event commit together. What
a worker reports about an attempt is in :mod:`backend_svc.attempts`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from backend_svc import app_rights, audit, cases, idempotency, quotas
from backend_svc.changes import owner_id, parse_uuid, record_change, row_by_id, text_or_none
from backend_svc.policy import Action
from backend_svc.queue import ACTIVE_STATES, Positions, queue_positions
from backend_svc.quotas import QuotaRules
from backend_svc.scheduler import Candidate
from common.contracts.base import Principal
from common.contracts.jobs import JobEvent, JobOut, SubmitJob
from common.errors import BadRequest, Conflict, NotFound

JOB_SELECT = (
    "SELECT j.*, u.username, a.name AS app, a.id AS app_id, v.version AS app_version "
    "FROM jobs j JOIN users u ON u.id = j.user_id "
    "JOIN app_versions v ON v.id = j.app_version_id JOIN apps a ON a.id = v.app_id"
)


@dataclass(frozen=True)
class FoundJob:
    job: JobOut
    user_id: str


def job_from_row(row: asyncpg.Record, position: int | None = None) -> JobOut:
    return JobOut(
        id=str(row["id"]), user=row["username"], app=row["app"],
        app_version=row["app_version"], procedure=row["procedure"], state=row["state"],
        reason=row["reason"], priority=row["priority"], attempt=row["attempt"],
        max_attempts=row["max_attempts"], time_limit_s=row["time_limit_s"],
        memory_mb=row["memory_mb"], not_before=row["not_before"],
        input_case_id=text_or_none(row["input_case_id"]),
        output_case_id=text_or_none(row["output_case_id"]),
        progress=row["progress"], progress_message=row["progress_message"],
        interrupted=row["interrupted"], queue_position=position, worker=row["worker"],
        created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], log_s3_key=row["log_s3_key"],
    )


def job_event(job: JobOut, **extra: Any) -> JobEvent:
    return JobEvent(job_id=job.id, user=job.user, app=job.app, attempt=job.attempt,
                    state=job.state, reason=job.reason, interrupted=job.interrupted, **extra)


async def submit(
    conn: asyncpg.Connection, actor: Principal, request: SubmitJob, *,
    default_memory_mb: int, max_attempts: int, rules: QuotaRules,
) -> JobOut:
    """Queue a job for ``actor``; event modelport.job.queued. With an ``idempotency_key``
    already used by this user for the same request, return that job instead (nothing new).

    Raises NotFound ``unknown_app`` / ``unknown_version`` / ``not_found`` (a case the actor
    may not see), BadRequest ``no_owner`` / ``unknown_procedure`` / ``case_app_mismatch``,
    Conflict ``idempotency_key_reused`` (the key came with a different request), 422
    ``time_limit_too_long``, 429 ``quota_exceeded`` (queued jobs, monthly CPU-hours). A job
    without a time limit gets ``rules``' default.
    """
    user_id = owner_id(actor, "a job belongs to a user")
    earlier = await idempotency.claim(conn, idempotency.JOBS, user_id, request)
    if earlier is not None:
        return (await find_job(conn, str(earlier))).job
    time_limit_s = rules.time_limit(request.time_limit_s)
    version = await _app_version(conn, actor, request.app, request.version)
    _check_procedure(version["manifest"], request.procedure)
    case_id = await cases.case_for_app(conn, actor, request.input_case_id, request.app)
    await quotas.lock_user(conn, user_id)
    await quotas.check_submit(conn, user_id, rules)
    job_id = await conn.fetchval(
        "INSERT INTO jobs (user_id, app_version_id, procedure, input_case_id, priority, "
        "max_attempts, time_limit_s, memory_mb, not_before, options) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        user_id, version["id"], request.procedure, case_id, request.priority, max_attempts,
        time_limit_s, request.memory_mb or default_memory_mb, request.not_before,
        request.options,
    )
    await idempotency.bind(conn, idempotency.JOBS, user_id, request, job_id)
    job = (await find_job(conn, str(job_id))).job
    await record_change(conn, actor, "job.submit", subject=job.id,
                        event_type=JobEvent.QUEUED, event=job_event(job))
    return job


async def _app_version(
    conn: asyncpg.Connection, actor: Principal, app: str, version: str | None
) -> asyncpg.Record:
    """The version (the active one when None) of an app ``actor`` may use; NotFound
    ``unknown_app`` for an app that does not exist or that they may not use."""
    app_id = await app_rights.require(conn, actor, Action.APP_READ, app)
    app_row = await conn.fetchrow("SELECT id, active_version_id FROM apps WHERE id = $1", app_id)
    row = await conn.fetchrow(
        "SELECT id, manifest FROM app_versions WHERE app_id = $1 AND "
        "(CASE WHEN $2::text IS NULL THEN id = $3 ELSE version = $2 END)",
        app_row["id"], version, app_row["active_version_id"],
    )
    if row is None:
        raise NotFound(f"{app} has no version {version or '(active)'}", code="unknown_version")
    return row


def declared_procedures(manifest: dict[str, Any]) -> set[str] | None:
    """The procedures an app version declares, or None when its manifest lists none."""
    listed = manifest.get("procedures") if isinstance(manifest, dict) else None
    if not listed:
        return None
    return {p["name"] if isinstance(p, dict) else str(p) for p in listed}


def _check_procedure(manifest: dict[str, Any], procedure: str) -> None:
    declared = declared_procedures(manifest)
    if declared is not None and procedure not in declared:
        raise BadRequest(f"the app declares no procedure {procedure!r}; it declares "
                         f"{', '.join(sorted(declared))}", code="unknown_procedure")


async def find_job(
    conn: asyncpg.Connection, job_id: str, *, lock: bool = False
) -> FoundJob:
    """The job ``job_id`` (row-locked with ``lock``) and its owner; NotFound when none."""
    row = await row_by_id(conn, JOB_SELECT, "j", job_id, lock=lock, what="job")
    position = None
    if row["state"] == "queued":
        position = (await queue_positions(conn, [row["id"]])).get(row["id"])
    return FoundJob(job_from_row(row, position), str(row["user_id"]))


def candidate(row: asyncpg.Record) -> Candidate:
    return Candidate(id=row["id"], user=row["user_id"], app=row["app_id"],
                     priority=row["priority"], created_at=row["created_at"])


async def list_jobs(
    conn: asyncpg.Connection, *, user_id: str | None, state: str | None, app: str | None,
    limit: int, offset: int, positions: Positions = queue_positions,
) -> tuple[list[JobOut], int]:
    """Jobs (of ``user_id`` when given), newest first, with queue positions (from
    ``positions``: a :class:`~backend_svc.position_cache.PositionCache`'s), and the total."""
    where, args = _filters(user_id, state, app)
    rows = await conn.fetch(f"{JOB_SELECT} WHERE {where} ORDER BY j.created_at DESC, j.id "
                            f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}", *args, limit, offset)
    total = await conn.fetchval(
        "SELECT count(*) FROM jobs j JOIN app_versions v ON v.id = j.app_version_id "
        f"JOIN apps a ON a.id = v.app_id WHERE {where}", *args,
    )
    found = await positions(conn, [r["id"] for r in rows if r["state"] == "queued"])
    return [job_from_row(r, found.get(r["id"])) for r in rows], int(total)


def _filters(user_id: str | None, state: str | None, app: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters given, and its arguments. Only those given appear, so
    the statement's plan (prepared once, reused) can use the index of each."""
    owner = parse_uuid(user_id) if user_id else None
    if user_id and owner is None:
        return "false", []  # not a user id: nobody's jobs
    given = [("j.user_id", owner), ("j.state", state), ("a.name", app)]
    present = [(column, value) for column, value in given if value is not None]
    where = " AND ".join(f"{column} = ${n}" for n, (column, _) in enumerate(present, start=1))
    return where or "true", [value for _, value in present]


async def cancel(conn: asyncpg.Connection, actor: Principal, found: FoundJob) -> JobOut:
    """Cancel a job found with ``lock``: a queued one at once (event cancelled), a scheduled
    or running one by request (the worker stops it; the caller sends StopJob).

    Raises Conflict ``not_cancellable`` for a finished job.
    """
    job = found.job
    if job.state in ("queued", "lost"):
        row = await conn.fetchrow(
            "UPDATE jobs SET state = 'cancelled', reason = 'cancelled', finished_at = now(), "
            "updated_at = now() WHERE id = $1 RETURNING id", uuid.UUID(job.id))
        assert row is not None
        done = (await find_job(conn, job.id)).job
        await record_change(conn, actor, "job.cancel", subject=job.id,
                            event_type=JobEvent.CANCELLED, event=job_event(done))
        return done
    if job.state not in ACTIVE_STATES:
        raise Conflict(f"job is {job.state}; it cannot be cancelled", code="not_cancellable")
    await _request(conn, actor, job, "cancel_requested", "job.cancel_request")
    return job


async def interrupt(conn: asyncpg.Connection, actor: Principal, found: FoundJob) -> JobOut:
    """Ask a running job to stop and keep its best solution (the caller sends StopJob).

    Raises Conflict ``not_interruptible`` unless the job is running.
    """
    job = found.job
    if job.state != "running":
        raise Conflict(f"job is {job.state}; only a running job can be interrupted",
                       code="not_interruptible")
    await _request(conn, actor, job, "interrupt_requested", "job.interrupt_request")
    return job


async def _request(
    conn: asyncpg.Connection, actor: Principal, job: JobOut, column: str, action: str
) -> None:
    await conn.execute(f"UPDATE jobs SET {column} = true, updated_at = now() WHERE id = $1",
                       uuid.UUID(job.id))
    await audit.record(conn, actor, action, job.id, {"attempt": job.attempt,
                                                      "worker": job.worker})
