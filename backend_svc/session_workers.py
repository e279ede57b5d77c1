"""What session workers report: claim, ready, failed, stopped, heartbeats; and the reaper.

A session is *current* on a worker while it is starting, ready or stopping, on the reported
attempt and assigned to that worker. Every function returns False (or ``current=False``) and
changes nothing for any other session, so reports are idempotent: a second "stopped" finds
the session ended and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from backend_svc import audit, hosts
from backend_svc.changes import parse_uuid
from backend_svc.dispatch import best_runtime
from backend_svc.leases import settle_expired
from backend_svc.session_restarts import restart_slot
from backend_svc.sessions import (
    ACTIVE_STATES,
    SESSION_SELECT,
    end,
    record_state,
    session_from_row,
)
from common.contracts.base import Principal
from common.contracts.jobs import BlobRef
from common.contracts.sessions import (
    HOST_DOWN,
    WORKER_LOST,
    ClaimSession,
    SessionFailed,
    SessionLaunch,
    SessionReady,
    SessionStopped,
    SessionWorkerReply,
    SessionWorkerReport,
    StopSession,
)

log = structlog.get_logger(__name__)
SESSION_REAPER_LOCK = 0x6D6F64656C08
LOST_MESSAGE = ("The session stopped answering (its container or worker died). Open it "
                "again from its autosave to continue.")
NO_WORKER_MESSAGE = "No session worker took the session in time; try again later."
_RESTARTED_AFTER = {HOST_DOWN: ("Restarted on another host after a host failure",
                                "Restarted on another host"),
                    WORKER_LOST: ("Restarted after its session worker failed",
                                  "Restarted by another session worker")}

_LAUNCH = (
    "SELECT s.id, s.attempt, s.user_id, u.username, u.role, a.name AS app, "
    "v.version, v.runtime_requirement, v.s3_key, v.sha256, v.size_bytes, "
    "c.id AS case_id, c.name AS case_name, d.s3_key AS case_key, d.sha256 AS case_sha, "
    "d.size_bytes AS case_size, s.autosave_case_id "
    "FROM sessions s JOIN users u ON u.id = s.user_id "
    "JOIN app_versions v ON v.id = s.app_version_id JOIN apps a ON a.id = v.app_id "
    "LEFT JOIN cases c ON c.id = s.case_id "
    # the data to open: its autosave when it has one (a restart), else the case it was
    # opened from (None: the app's default data)
    "LEFT JOIN cases d ON d.id = coalesce(s.autosave_case_id, s.case_id) WHERE s.id = $1"
)


def worker_principal(worker: str) -> Principal:
    return Principal(username=f"session-worker:{worker}", system=True, is_admin=True)


async def current_row(
    conn: asyncpg.Connection, worker: str, session_id: str, attempt: int
) -> asyncpg.Record | None:
    """The session's row, locked, when (``session_id``, ``attempt``) is current on
    ``worker``; else None."""
    parsed = parse_uuid(session_id)
    row = None if parsed is None else await conn.fetchrow(
        f"{SESSION_SELECT} WHERE s.id = $1 FOR UPDATE OF s", parsed)
    if row is None or row["state"] not in ACTIVE_STATES:
        return None
    if row["attempt"] != attempt or row["worker"] != worker:
        return None
    return row


async def claim(conn: asyncpg.Connection, msg: ClaimSession, *,
                lease_ttl_s: float) -> SessionLaunch:
    """requested → starting on ``msg.worker`` (attempt+1, lease); what to launch. A
    restarted session waiting for its restart slot is not claimed before it."""
    parsed = parse_uuid(msg.session_id)
    claimed = None if parsed is None else await conn.fetchval(
        "UPDATE sessions SET state = 'starting', attempt = attempt + 1, worker = $2, "
        "worker_boot = $4, lease_expires_at = now() + make_interval(secs => $3), "
        "updated_at = now() WHERE id = $1 AND state = 'requested' "
        "AND (not_before IS NULL OR not_before <= now()) RETURNING id",
        parsed, msg.worker, lease_ttl_s, msg.boot)
    if claimed is None:
        return SessionLaunch(current=False)
    await audit.record(conn, worker_principal(msg.worker), "session.claim", str(claimed))
    row = await conn.fetchrow(_LAUNCH, claimed)
    runtimes = await conn.fetch("SELECT version, manifest, s3_key, sha256, size_bytes "
                                "FROM runtimes")
    runtime = best_runtime(row["runtime_requirement"], runtimes)
    if runtime is None:
        found = session_from_row(await conn.fetchrow(f"{SESSION_SELECT} WHERE s.id = $1",
                                                     claimed))
        await end(conn, worker_principal(msg.worker), found, "failed", "no_runtime",
                  f"No registered runtime satisfies {row['runtime_requirement']}.")
        return SessionLaunch(current=False)
    return _launch(row, runtime, lease_ttl_s)


def _launch(row: asyncpg.Record, runtime: asyncpg.Record, lease_ttl_s: float) -> SessionLaunch:
    case = None
    if row["case_key"] is not None:
        case = BlobRef(s3_key=row["case_key"], sha256=row["case_sha"],
                       size_bytes=row["case_size"])
    owner = Principal(user_id=str(row["user_id"]), username=row["username"],
                      role=row["role"])
    manifest = runtime["manifest"] or {}
    return SessionLaunch(
        current=True, session_id=str(row["id"]), attempt=row["attempt"], owner=owner,
        app=row["app"], app_version=row["version"],
        app_package=BlobRef(s3_key=row["s3_key"], sha256=row["sha256"],
                            size_bytes=row["size_bytes"]),
        runtime_version=runtime["version"],
        runtime_package=BlobRef(s3_key=runtime["s3_key"], sha256=runtime["sha256"],
                                size_bytes=runtime["size_bytes"]),
        runtime_image_digest=str(manifest.get("image_digest", "")), case=case,
        case_id=None if row["case_id"] is None else str(row["case_id"]),
        case_name=row["case_name"],
        autosave_case_id=None if row["autosave_case_id"] is None
        else str(row["autosave_case_id"]),
        lease_ttl_s=lease_ttl_s)


async def ready(conn: asyncpg.Connection, msg: SessionReady, *, lease_ttl_s: float) -> bool:
    """starting → ready at ``msg.endpoint`` (event ready); a repeat only renews the lease."""
    row = await current_row(conn, msg.worker, msg.session_id, msg.attempt)
    if row is None:
        return False
    if row["state"] != "starting":
        return row["state"] == "ready"
    await conn.execute(
        "UPDATE sessions SET state = 'ready', host = $2, endpoint = $3, "
        "started_at = now(), last_activity_at = now(), "
        "lease_expires_at = now() + make_interval(secs => $4), updated_at = now() "
        "WHERE id = $1", row["id"], msg.host, msg.endpoint, lease_ttl_s)
    session = session_from_row(row).model_copy(update={"state": "ready", "host": msg.host,
                                                       "endpoint": msg.endpoint})
    await record_state(conn, worker_principal(msg.worker), session)
    return True


async def failed(conn: asyncpg.Connection, msg: SessionFailed, *,
                 claim_timeout_s: float = 60.0, restart_spacing_s: float = 0.0) -> bool:
    """The session could not start or died on the worker → failed (event failed); its host
    failed (reason ``host_down``) → :func:`restart`."""
    row = await current_row(conn, msg.worker, msg.session_id, msg.attempt)
    if row is None:
        return False
    if msg.reason == HOST_DOWN:
        await restart(conn, msg.worker, row, claim_timeout_s=claim_timeout_s,
                      restart_spacing_s=restart_spacing_s)
        return True
    await end(conn, worker_principal(msg.worker), session_from_row(row), "failed", msg.reason,
              msg.message or None)
    return True


def restart_message(autosaved_at: datetime | None, reason: str = HOST_DOWN) -> str:
    """What the user is told about a session restarted after ``reason`` (its host failed:
    ``host_down``; its worker died: ``worker_lost``)."""
    what = _RESTARTED_AFTER[reason][0]
    if autosaved_at is None:
        return (f"{what}; no autosave had been made yet, so it started again from the data "
                "it was opened with.")
    return f"{what}; data as of the autosave at {autosaved_at.astimezone(UTC):%H:%M:%S} UTC."


async def restart(conn: asyncpg.Connection, worker: str, row: asyncpg.Record, *,
                  claim_timeout_s: float, restart_spacing_s: float = 0.0,
                  reason: str = HOST_DOWN, actor: Principal | None = None) -> None:
    """The session's Docker host failed (``reason`` ``host_down``) or its worker died
    (``worker_lost``, from the reaper): event ``lost`` with ``reason``, then
    ``requested`` again (attempt kept: the next claim counts it) for any worker to launch
    on a healthy host from its last autosave, not before its restart slot
    (:mod:`backend_svc.session_restarts`: paced ``restart_spacing_s`` apart). ``reason``
    and ``message`` stay on the session so its page says what happened. Its StartSession
    is sent when the slot comes (``release_due``, after commit)."""
    message = restart_message(row["autosaved_at"], reason)
    session = session_from_row(row).model_copy(update={
        "state": "lost", "reason": reason, "message": message, "endpoint": None})
    await record_state(conn, actor or worker_principal(worker), session)
    slot = await restart_slot(conn, restart_spacing_s)
    await conn.execute(
        "UPDATE sessions SET state = 'requested', reason = $2, message = $3, worker = NULL, "
        "host = NULL, endpoint = NULL, not_before = $5::timestamptz, start_sent = false, "
        "lease_expires_at = $5::timestamptz + make_interval(secs => $4), updated_at = now() "
        "WHERE id = $1",
        row["id"], reason, message, claim_timeout_s, slot)
    log.warning("session_restarting", session_id=str(row["id"]), attempt=row["attempt"],
                reason=reason, not_before=slot.isoformat())


async def stopped(conn: asyncpg.Connection, msg: SessionStopped) -> bool:
    """The worker stopped the session (asked to, idle, shut down) → stopped (event)."""
    row = await current_row(conn, msg.worker, msg.session_id, msg.attempt)
    if row is None:
        return False
    session = session_from_row(row)
    autosave = parse_uuid(msg.autosave_case_id)
    if autosave is not None:
        owned = await conn.fetchval(  # only a case of the session's owner and app
            "UPDATE sessions s SET autosave_case_id = c.id FROM cases c JOIN app_versions v "
            "ON v.app_id = c.app_id WHERE s.id = $1 AND c.id = $2 AND c.owner_id = s.user_id "
            "AND v.id = s.app_version_id RETURNING c.id", row["id"], autosave)
        if owned is not None:
            session = session.model_copy(update={"autosave_case_id": str(autosave)})
    reason = row["stop_reason"] or msg.reason or "stopped"
    await end(conn, worker_principal(msg.worker), session, "stopped", reason)
    return True


async def report(conn: asyncpg.Connection, msg: SessionWorkerReport, *,
                 lease_ttl_s: float) -> SessionWorkerReply:
    """Renew the lease of each held session that is current, store its idle time, and answer
    which to stop: those not current (stale) and those whose stop was asked; store the load
    of the worker's hosts and name the drained ones."""
    stop: list[StopSession] = []
    for held in msg.sessions:
        row = await current_row(conn, msg.worker, held.session_id, held.attempt)
        if row is None:
            stop.append(StopSession(session_id=held.session_id, attempt=held.attempt,
                                    reason="stale"))
            continue
        await conn.execute(
            "UPDATE sessions SET lease_expires_at = now() + make_interval(secs => $2), "
            "last_activity_at = CASE WHEN $3::float8 IS NULL THEN last_activity_at "
            "ELSE now() - make_interval(secs => $3) END WHERE id = $1",
            row["id"], lease_ttl_s, held.idle_s)
        if row["state"] == "stopping":
            stop.append(StopSession(session_id=held.session_id, attempt=held.attempt,
                                    reason=row["stop_reason"] or "user"))
    await conn.execute(
        "INSERT INTO session_workers (name, boot) VALUES ($1, $2) ON CONFLICT (name) "
        "DO UPDATE SET last_report_at = now(), boot = $2", msg.worker, msg.boot)
    drained = await hosts.report(conn, msg.worker, msg.hosts)
    return SessionWorkerReply(stop=stop, drained=drained)


@dataclass(frozen=True)
class Reaping:
    """What the session reaper needs to tell a dead worker and restart its sessions."""

    lease_ttl_s: float  # a worker silent this long is dead
    claim_timeout_s: float
    restart_spacing_s: float = 0.0


async def reap_sessions(pool: asyncpg.Pool, rules: Reaping) -> int:
    """Settle every session whose lease expired: a requested one nobody claimed fails
    (``no_worker``), a stopping one is ``stopped``; a started one whose worker died (no
    report for ``lease_ttl_s``, or restarted since under its name) is restarted from its
    last autosave (``worker_lost``), one whose worker still reports but dropped it (its
    agent died) is ``lost`` (``lease_expired``). Returns how many."""

    async def settle(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        await _settle(conn, row, rules)

    total = await settle_expired(pool, SESSION_SELECT, "s", ["requested", *ACTIVE_STATES],
                                 settle)
    if total:
        log.info("session_leases_reaped", sessions=total)
    return total


async def _settle(conn: asyncpg.Connection, row: asyncpg.Record, rules: Reaping) -> None:
    session = session_from_row(row)
    if row["state"] == "requested":
        await end(conn, Principal.SYSTEM, session, "failed", "no_worker", NO_WORKER_MESSAGE)
    elif row["state"] == "stopping":
        await end(conn, Principal.SYSTEM, session, "stopped", row["stop_reason"] or "user",
                  "The session's worker did not confirm the stop.")
    elif not await _holder_alive(conn, row, rules.lease_ttl_s):
        await restart(conn, row["worker"] or "", row, claim_timeout_s=rules.claim_timeout_s,
                      restart_spacing_s=rules.restart_spacing_s, reason=WORKER_LOST,
                      actor=Principal.SYSTEM)
    else:
        await end(conn, Principal.SYSTEM, session, "lost", "lease_expired", LOST_MESSAGE)


async def _holder_alive(conn: asyncpg.Connection, row: asyncpg.Record, ttl_s: float) -> bool:
    """True when the process that claimed the session still runs: its worker reported
    within ``ttl_s`` from the same process (``boot``; a worker restarted under the same name
    is another process, which does not hold its predecessor's sessions)."""
    return row["worker"] is not None and bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM session_workers WHERE name = $1 AND boot = $3 "
        "AND last_report_at > now() - make_interval(secs => $2))",
        row["worker"], ttl_s, row["worker_boot"]))
