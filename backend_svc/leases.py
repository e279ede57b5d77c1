"""The lease reaper: work whose lease expired is lost (its worker died or lost touch).

An expired scheduled or running job becomes ``lost`` (event lost), then in the same
transaction ``queued`` again while attempts remain, else ``failed`` with reason
``retries_exhausted`` (event failed). A job whose cancel was requested is ``cancelled``
instead (event cancelled). Runs as an exclusive duty (:class:`backend_svc.duty.ExclusiveDuty`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import structlog

from backend_svc.changes import record_change
from backend_svc.jobs import ACTIVE_STATES, JOB_SELECT, job_event, job_from_row
from common.contracts.base import Principal
from common.contracts.jobs import JobEvent, JobOut

log = structlog.get_logger(__name__)
REAPER_LOCK = 0x6D6F64656C04
BATCH = 200


async def reap(pool: asyncpg.Pool) -> int:
    """Settle every job whose lease has expired, a batch per transaction; return how many."""
    total = await settle_expired(pool, JOB_SELECT, "j", ACTIVE_STATES, _settle)
    if total:
        log.info("leases_reaped", jobs=total)
    return total


async def settle_expired(
    pool: asyncpg.Pool, select: str, alias: str, states: Sequence[str],
    settle: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]],
) -> int:
    """``settle`` each row of ``select`` (table aliased ``alias``) in one of ``states`` whose
    lease has expired, oldest first, BATCH rows per transaction (skipping rows others hold
    locked); return how many."""
    total = 0
    for _ in range(10_000):  # bounded: each batch settles up to BATCH rows
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"{select} WHERE {alias}.state = ANY($1::text[]) AND {alias}.lease_expires_at "
                f"< now() ORDER BY {alias}.lease_expires_at LIMIT $2 FOR UPDATE OF {alias} "
                "SKIP LOCKED", list(states), BATCH,
            )
            for row in rows:
                await settle(conn, row)
        total += len(rows)
        if len(rows) < BATCH:
            break
    return total


async def _settle(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    job = job_from_row(row)
    if row["cancel_requested"]:
        await _finish(conn, job, "cancelled", "cancelled", JobEvent.CANCELLED)
        return
    await lose(conn, job, "lease_expired")


async def lose(conn: asyncpg.Connection, job: JobOut, reason: str) -> None:
    """The attempt is lost through no fault of the app (``reason``): event lost, then queued
    again while attempts remain, else failed with ``retries_exhausted``."""
    lost = job.model_copy(update={"state": "lost", "reason": reason})
    await record_change(conn, Principal.SYSTEM, "job.lost", subject=job.id,
                        event_type=JobEvent.LOST, event=job_event(lost))
    if job.attempt < job.max_attempts:
        await conn.execute(
            "UPDATE jobs SET state = 'queued', reason = $2, worker = NULL, "
            "lease_expires_at = NULL, interrupt_requested = false, updated_at = now() "
            "WHERE id = $1::uuid", job.id, reason,
        )
        return
    await _finish(conn, job, "failed", "retries_exhausted", JobEvent.FAILED)


async def _finish(
    conn: asyncpg.Connection, job: JobOut, state: str, reason: str, event_type: str
) -> None:
    await conn.execute(
        "UPDATE jobs SET state = $2, reason = $3, finished_at = now(), lease_expires_at = NULL, "
        "updated_at = now() WHERE id = $1::uuid", job.id, state, reason,
    )
    done = job.model_copy(update={"state": state, "reason": reason})
    await record_change(conn, Principal.SYSTEM, f"job.{state}", subject=job.id,
                        event_type=event_type, event=job_event(done))
