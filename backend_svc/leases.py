"""The lease reaper: work whose lease expired is lost (its worker died or lost touch).

An expired scheduled or running job becomes ``lost`` (event lost), then in the same
transaction ``queued`` again while attempts remain, else ``failed`` with reason
``retries_exhausted`` (event failed). A job whose cancel was requested is ``cancelled``
instead (event cancelled). Re-queued work is paced: each gets a ``not_before`` at least
``restart_spacing_s`` after the previous re-queued one still waiting, so the jobs of a
failed host or worker restart one after another on the survivors instead of all at once
(no start storm). Runs as an exclusive duty (:class:`backend_svc.duty.ExclusiveDuty`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg
import structlog

from backend_svc.changes import record_change
from backend_svc.jobs import ACTIVE_STATES, JOB_SELECT, job_event, job_from_row
from common.contracts.base import Principal
from common.contracts.jobs import JobEvent, JobOut

log = structlog.get_logger(__name__)
REAPER_LOCK = 0x6D6F64656C04
RESTART_LOCK = 0x6D6F64656C0D  # serialises the choice of restart slots
BATCH = 200
# the reasons a job is lost and re-queued with (they mark re-queued jobs in the queue)
LOST_REASONS = ("lease_expired", "infrastructure", "host_down")


async def reap(pool: asyncpg.Pool, *, restart_spacing_s: float = 0.0) -> int:
    """Settle every job whose lease has expired, a batch per transaction; return how many."""
    async def settle(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        await _settle(conn, row, restart_spacing_s)

    total = await settle_expired(pool, JOB_SELECT, "j", ACTIVE_STATES, settle)
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


async def _settle(conn: asyncpg.Connection, row: asyncpg.Record, spacing_s: float) -> None:
    job = job_from_row(row)
    if row["cancel_requested"]:
        await _finish(conn, job, "cancelled", "cancelled", JobEvent.CANCELLED)
        return
    await lose(conn, job, "lease_expired", restart_spacing_s=spacing_s)


async def lose(conn: asyncpg.Connection, job: JobOut, reason: str, *,
               restart_spacing_s: float = 0.0) -> None:
    """The attempt is lost through no fault of the app (``reason``, one of LOST_REASONS):
    event lost, then queued again (not before its restart slot) while attempts remain,
    else failed with ``retries_exhausted``."""
    lost = job.model_copy(update={"state": "lost", "reason": reason})
    await record_change(conn, Principal.SYSTEM, "job.lost", subject=job.id,
                        event_type=JobEvent.LOST, event=job_event(lost))
    if job.attempt < job.max_attempts:
        await conn.execute(
            "UPDATE jobs SET state = 'queued', reason = $2, worker = NULL, "
            "lease_expires_at = NULL, interrupt_requested = false, updated_at = now(), "
            "not_before = $3 WHERE id = $1::uuid",
            job.id, reason, await restart_slot(conn, restart_spacing_s),
        )
        return
    await _finish(conn, job, "failed", "retries_exhausted", JobEvent.FAILED)


async def restart_slot(conn: asyncpg.Connection, spacing_s: float) -> datetime | None:
    """When the next re-queued job may start: now, or ``spacing_s`` after the latest slot
    given to a re-queued job still waiting in the queue or started less than ``spacing_s``
    ago (None when pacing is off). Holds a transaction lock so concurrent losses get
    distinct slots. Both reads go by partial indexes: the queue's waiting jobs (backwards,
    to the first re-queued one) and the leased jobs (as many as there are slots)."""
    if spacing_s <= 0:
        return None
    await conn.execute("SELECT pg_advisory_xact_lock($1)", RESTART_LOCK)
    slot: datetime = await conn.fetchval(
        "SELECT greatest(now(), greatest("
        " (SELECT max(not_before) FROM jobs WHERE state = 'queued' AND not_before IS NOT NULL"
        "  AND reason = ANY($1::text[])),"
        " (SELECT max(not_before) FROM jobs WHERE state IN ('scheduled', 'running')"
        "  AND not_before > now() - make_interval(secs => $2)))"
        " + make_interval(secs => $2))", list(LOST_REASONS), spacing_s)
    return slot


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
