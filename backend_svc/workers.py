"""Solve workers: their periodic reports (capacity + heartbeats) and commands sent to them."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend_svc import hosts
from backend_svc.changes import parse_uuid
from backend_svc.jobs import ACTIVE_STATES
from common.amqp.publisher import Publisher
from common.amqp.topology import solve_worker_queue
from common.contracts.jobs import (
    ForeignContainer,
    RunJob,
    StopJob,
    WorkerReport,
    WorkerReportReply,
)


async def report(
    conn: asyncpg.Connection, msg: WorkerReport, *, lease_ttl_s: float
) -> WorkerReportReply:
    """Record the worker's capacity, renew the lease of each listed attempt that is current
    and its own, and answer which attempts it should stop.

    Stop ``cancel``: the attempt is not current or not this worker's, or a cancel was
    requested (its lease is then not renewed: the reaper cancels it if the worker never
    confirms). Stop ``interrupt``: an interrupt was requested (sent on every report until the
    job ends; workers treat a repeated interrupt as one). The load of the worker's hosts is
    stored and the drained hosts named (see :mod:`backend_svc.hosts`).
    """
    await conn.execute(
        "INSERT INTO workers (name, slots_total, slots_free, last_report_at) "
        "VALUES ($1, $2, $3, now()) ON CONFLICT (name) DO UPDATE SET "
        "slots_total = $2, slots_free = $3, last_report_at = now()",
        msg.worker, msg.slots_total, min(msg.slots_free, msg.slots_total),
    )
    rows = await _rows(conn, msg.running)
    stop: list[StopJob] = []
    renew = []
    for job_id, attempt in msg.running:
        row = rows.get(str(parse_uuid(job_id)))
        current = (row is not None and row["state"] in ACTIVE_STATES
                   and row["attempt"] == attempt and row["worker"] == msg.worker)
        if not current or (row is not None and row["cancel_requested"]):
            stop.append(StopJob(job_id=job_id, attempt=attempt, mode="cancel"))
            continue
        assert row is not None
        renew.append(row["id"])
        if row["interrupt_requested"]:
            stop.append(StopJob(job_id=job_id, attempt=attempt, mode="interrupt"))
    if renew:
        await conn.execute(
            "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $2) "
            "WHERE id = ANY($1::uuid[])", renew, lease_ttl_s,
        )
    reclaim = await orphans(conn, msg.foreign, lease_ttl_s=lease_ttl_s)
    drained = await hosts.report(conn, msg.worker, msg.hosts)
    return WorkerReportReply(stop=stop, reclaim=reclaim, drained=drained)


async def orphans(conn: asyncpg.Connection, seen: list[ForeignContainer], *,
                  lease_ttl_s: float) -> list[str]:
    """Names of the ``seen`` containers nobody alive owns: a job container whose attempt is
    not the job's current one under an unexpired lease (its worker died, or the job moved
    on), an idle warm container whose worker has not reported for ``lease_ttl_s``."""
    if not seen:
        return []
    ids = [p for p in (parse_uuid(c.job_id) for c in seen if c.job_id) if p is not None]
    leased = {(str(r["id"]), r["attempt"]) for r in await conn.fetch(
        "SELECT id, attempt FROM jobs WHERE id = ANY($1::uuid[]) AND state = ANY($2::text[]) "
        "AND lease_expires_at > now()", ids, list(ACTIVE_STATES))}
    owners = sorted({c.owner_worker for c in seen if c.job_id is None})
    alive = {r["name"] for r in await conn.fetch(
        "SELECT name FROM workers WHERE name = ANY($1::text[]) "
        "AND last_report_at > now() - make_interval(secs => $2)", owners, lease_ttl_s)}
    return [c.name for c in seen if not _owned(c, leased, alive)]


def _owned(seen: ForeignContainer, leased: set[tuple[str, int]], alive: set[str]) -> bool:
    if seen.job_id is None:
        return seen.owner_worker in alive
    parsed = parse_uuid(seen.job_id)
    return parsed is not None and (str(parsed), seen.attempt) in leased


async def _rows(conn: asyncpg.Connection, running: list[tuple[str, int]]) -> dict[str, Any]:
    ids = [p for p in (parse_uuid(job_id) for job_id, _ in running) if p is not None]
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT id, state, attempt, worker, cancel_requested, interrupt_requested FROM jobs "
        "WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", ids,
    )
    return {str(r["id"]): r for r in rows}


async def send(commands: Publisher, worker: str, message: RunJob | StopJob) -> None:
    """Publish ``message`` to ``worker``'s own queue and wait for the broker's confirm."""
    await commands.publish(
        message.model_dump_json().encode(), routing_key=solve_worker_queue(worker),
        message_id=f"{message.TYPE}:{message.job_id}:{message.attempt}",
        message_type=message.TYPE,
    )
