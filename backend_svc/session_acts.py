"""What a running session asks of the platform, through its worker, as the session's owner:
save, open and list cases of its app; submit, watch, fetch and cancel jobs.

Each call names (worker, session, attempt); backend acts only while that session is current
on that worker, and then with exactly the owner's rights (the policy decides as for the
owner's own calls). A worker can therefore never act for a user who has no live session on
it. Runs in the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from backend_svc import cases, jobs, policy, quotas
from backend_svc.cases import FoundCase
from backend_svc.changes import parse_uuid, record_change
from backend_svc.policy import Action
from backend_svc.quotas import QuotaRules
from backend_svc.session_workers import current_row
from common.contracts.base import Principal
from common.contracts.cases import CaseEvent, CaseOut, RegisterCase
from common.contracts.jobs import BlobRef, JobOut, SubmitJob
from common.contracts.sessions import (
    ActAs,
    SessionCase,
    SessionCaseRef,
    SessionCases,
    SessionJob,
    SessionSaveCase,
    SessionSubmitJob,
)
from common.errors import BadRequest, Conflict, NotFound


@dataclass(frozen=True)
class Acting:
    owner: Principal
    session_id: uuid.UUID
    app: str
    app_version: str


async def acting(conn: asyncpg.Connection, msg: ActAs) -> Acting:
    """The session's owner, when the session is current on the worker; Conflict
    ``session_not_current`` otherwise."""
    row = await current_row(conn, msg.worker, msg.session_id, msg.attempt)
    if row is None:
        raise Conflict("the session is not running on this worker", code="session_not_current")
    owner = Principal(user_id=str(row["user_id"]), username=row["username"])
    return Acting(owner, row["id"], row["app"], row["app_version"])


async def _readable_case(conn: asyncpg.Connection, who: Acting, case_id: str) -> FoundCase:
    found = await cases.find_case(conn, case_id, viewer_id=who.owner.user_id)
    if not policy.allowed(who.owner, Action.CASE_READ, owner_id=found.owner_id,
                          shared=found.shared):
        raise NotFound("case not found")
    if found.case.app != who.app:
        raise BadRequest(f"case {found.case.name!r} belongs to app {found.case.app!r}",
                         code="case_app_mismatch")
    return found


async def save_case(
    conn: asyncpg.Connection, msg: SessionSaveCase, rules: QuotaRules
) -> CaseOut:
    """A new case of the owner, or ``case_id`` (the owner's, same app) overwritten. A new case
    past the owner's storage quota is refused (429 quota_exceeded)."""
    who = await acting(conn, msg)
    if msg.case_id is None:
        owner = uuid.UUID(str(who.owner.user_id))
        await quotas.lock_user(conn, owner)
        await quotas.check_storage(conn, owner, msg.blob.size_bytes, rules)
        case = await cases.register_case(conn, who.owner, RegisterCase(
            actor=who.owner, case_id=str(uuid.uuid4()), app=who.app,
            app_version=who.app_version, name=msg.name, s3_key=msg.blob.s3_key,
            sha256=msg.blob.sha256, size_bytes=msg.blob.size_bytes))
    else:
        case = await _overwrite(conn, who, msg.case_id, msg.name, msg.blob)
    if msg.autosave:
        await conn.execute("UPDATE sessions SET autosave_case_id = $2, autosaved_at = now() "
                           "WHERE id = $1",
                           who.session_id, uuid.UUID(case.id))
    return case


async def _overwrite(conn: asyncpg.Connection, who: Acting, case_id: str, name: str,
                     blob: BlobRef) -> CaseOut:
    found = await _readable_case(conn, who, case_id)
    policy.authorize(who.owner, Action.CASE_RENAME, owner_id=found.owner_id)
    await conn.execute(
        "UPDATE cases SET name = $2, s3_key = $3, sha256 = $4, size_bytes = $5 WHERE id = $1",
        uuid.UUID(found.case.id), name, blob.s3_key, blob.sha256, blob.size_bytes)
    case = found.case.model_copy(update={"name": name, "sha256": blob.sha256,
                                         "size_bytes": blob.size_bytes})
    await record_change(conn, who.owner, "case.save", subject=case.id,
                        event_type=CaseEvent.UPDATED,
                        event=CaseEvent(case_id=case.id, app=case.app, owner=case.owner,
                                        extra={"saved": True, "name": name},
                                        groups=[g for g in [case.shared_group] if g]))
    return case


async def open_case(conn: asyncpg.Connection, msg: SessionCaseRef) -> SessionCase:
    who = await acting(conn, msg)
    found = await _readable_case(conn, who, msg.case_id)
    blob = BlobRef(s3_key=found.s3_key, sha256=found.case.sha256,
                   size_bytes=found.case.size_bytes)
    return SessionCase(case=found.case, blob=blob)


async def list_cases(conn: asyncpg.Connection, msg: ActAs) -> SessionCases:
    who = await acting(conn, msg)
    found, _ = await cases.list_cases(conn, who.owner.user_id, app=who.app, limit=1000,
                                      offset=0)
    autosave = await conn.fetchval("SELECT autosave_case_id FROM sessions WHERE id = $1",
                                   who.session_id)
    return SessionCases(cases=found, autosave_case_id=None if autosave is None
                        else str(autosave))


async def submit_job(conn: asyncpg.Connection, msg: SessionSubmitJob, *,
                     default_memory_mb: int, max_attempts: int, rules: QuotaRules) -> JobOut:
    """Register ``msg.blob`` as an input case of the owner and queue the job on it."""
    who = await acting(conn, msg)
    policy.authorize(who.owner, Action.JOB_SUBMIT)
    case = await cases.register_case(conn, who.owner, RegisterCase(
        actor=who.owner, case_id=str(uuid.uuid4()), app=who.app, app_version=who.app_version,
        name=f"session input {str(who.session_id)[:8]}", s3_key=msg.blob.s3_key,
        sha256=msg.blob.sha256, size_bytes=msg.blob.size_bytes))
    request = SubmitJob(actor=who.owner, app=who.app, version=who.app_version,
                        procedure=msg.procedure, input_case_id=case.id, options=msg.options)
    return await jobs.submit(conn, who.owner, request, default_memory_mb=default_memory_mb,
                             max_attempts=max_attempts, rules=rules)


async def owned_job(conn: asyncpg.Connection, msg: ActAs, job_id: str,
                    *, lock: bool = False) -> tuple[Acting, jobs.FoundJob]:
    who = await acting(conn, msg)
    found = await jobs.find_job(conn, job_id, lock=lock)
    policy.authorize_private(who.owner, Action.JOB_READ, Action.JOB_READ,
                             owner_id=found.user_id, shared=False, what="job")
    return who, found


async def job(conn: asyncpg.Connection, msg: ActAs, job_id: str) -> SessionJob:
    """The owner's job and, once it succeeded, where its result case is."""
    _, found = await owned_job(conn, msg, job_id)
    output = None
    if found.job.output_case_id is not None:
        row = await conn.fetchrow("SELECT s3_key, sha256, size_bytes FROM cases WHERE id = $1",
                                  parse_uuid(found.job.output_case_id))
        if row is not None:
            output = BlobRef(s3_key=row["s3_key"], sha256=row["sha256"],
                             size_bytes=row["size_bytes"])
    return SessionJob(job=found.job, output=output)
