"""The audit log: one row for every change, written in the change's transaction.

Who (the actor), what (the action), on what (the subject, shown as ``target``), when, and from
where (the client's address the portal passes in the actor). The table is append-only, by a
trigger of migration 0011 that refuses UPDATE, DELETE and TRUNCATE from any connection.

:data:`ACTIONS` says, for every RPC method backend serves, which audit actions it writes, or
why it writes none (it changes nothing, or is a heartbeat); ``tests/access/test_audit.py``
walks every declared method against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from common.contracts.admin import AuditEntry, AuditPage, ListAudit
from common.contracts.base import Principal

READS = "reads only"
HEARTBEAT = "heartbeat: renews leases and stores load, no change anyone made"

ACTIONS: dict[str, tuple[str, ...] | str] = {
    "system.ping": READS,
    "users.create": ("user.create",),
    "users.list": READS,
    "auth.login": ("token.issue", "signin.refused"),
    "auth.resolve": READS,
    "auth.revoke": ("token.revoke",),
    "runtimes.register": ("runtime.register",),
    "runtimes.list": READS,
    "runtimes.get": READS,
    "runtimes.delete": ("runtime.delete",),
    "apps.publish": ("app.publish",),
    "apps.list": READS,
    "apps.get": READS,
    "apps.activate": ("app.activate",),
    "apps.delete_version": ("app.delete_version",),
    "cases.register": ("case.create",),
    "cases.list": READS,
    "cases.get": READS,
    "cases.rename": ("case.rename",),
    "cases.share": ("case.share",),
    "cases.delete": ("case.delete",),
    "groups.create": ("group.create",),
    "groups.add_member": ("group.add_member",),
    "groups.remove_member": ("group.remove_member",),
    "groups.list": READS,
    "jobs.submit": ("job.submit",),
    "jobs.list": READS,
    "jobs.get": READS,
    "jobs.cancel": ("job.cancel", "job.cancel_request"),
    "jobs.interrupt": ("job.interrupt_request",),
    "workers.report": HEARTBEAT,
    "jobs.started": ("job.start",),
    "jobs.progress": "progress of a running attempt, no change anyone made",
    "jobs.finished": ("job.succeeded", "job.failed", "job.cancelled"),
    "sessions.create": ("session.create",),
    "sessions.list": READS,
    "sessions.get": READS,
    "sessions.stop": ("session.stop", "session.stopped"),
    "sessions.claim": ("session.claim", "session.failed"),
    "sessions.ready": ("session.ready",),
    "sessions.failed": ("session.failed",),
    "sessions.stopped": ("session.stopped",),
    "sessions.report": HEARTBEAT,
    "sessions.save_case": ("case.save",),
    "sessions.open_case": READS,
    "sessions.list_cases": READS,
    "sessions.submit_job": ("job.submit",),
    "sessions.job": READS,
    "sessions.cancel_job": ("job.cancel", "job.cancel_request"),
    "audit.list": READS,
    "hosts.list": READS,
    "hosts.drain": ("host.drain",),
    "hosts.return": ("host.return",),
    "tokens.create": ("token.issue",),
    "tokens.list": READS,
    "tokens.revoke": ("token.revoke",),
    "tokens.revoke_all": ("token.revoke_all",),
    "users.change_password": ("user.password_change", "user.password_refused"),
    "users.reset_password": ("user.password_reset",),
    "users.set_disabled": ("user.disabled", "user.enabled"),
    "auth.oidc": ("signin.oidc", "signin.refused", "user.create", "group.create",
                  "group.add_member", "group.remove_member"),
    "auth.oidc_refused": ("signin.refused",),
    "quotas.get": READS,
    "quotas.list": READS,
    "quotas.set": ("quota.set_user", "quota.set_group"),
    "usage.report": READS,
    "users.set_role": ("user.set_role",),
    "apps.get_rights": READS,
    "apps.set_rights": ("app.rights",),
}
"""Method name → the audit actions it writes, or why it writes none."""


_INSERT = ("INSERT INTO audit_log (actor_id, actor_name, action, subject, detail, client_ip) "
           "VALUES ($1, $2, $3, $4, $5, $6)")


async def record(
    conn: asyncpg.Connection, actor: Principal, action: str, subject: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(_INSERT, actor.user_id, actor.username, action, subject, detail or {},
                       actor.client_ip)


async def record_many(
    conn: asyncpg.Connection, actor: Principal, action: str,
    entries: list[tuple[str, dict[str, Any]]],
) -> None:
    """One row per (subject, detail) of a bulk change, in one round trip."""
    await conn.executemany(_INSERT, [(actor.user_id, actor.username, action, subject, detail,
                                      actor.client_ip) for subject, detail in entries])


async def page(conn: asyncpg.Connection, request: ListAudit) -> AuditPage:
    """The entries ``request`` filters, newest first, at most ``limit``, older than
    ``before`` (keyset on the id, so a page never shifts while new rows arrive)."""
    where, args = _filters(request)
    args.append(request.limit + 1)
    rows = await conn.fetch(
        "SELECT id, at, actor_id, actor_name, action, subject, client_ip, detail "
        f"FROM audit_log {where} ORDER BY id DESC LIMIT ${len(args)}", *args)
    entries = [_entry(r) for r in rows[:request.limit]]
    more = len(rows) > request.limit
    return AuditPage(entries=entries, next_before=entries[-1].id if more else None)


def _filters(request: ListAudit) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    wanted: list[tuple[str, Any]] = [
        ("actor_name = ", request.actor_name), ("action = ", request.action),
        ("subject = ", request.target), ("at >= ", request.since), ("at < ", request.until),
        ("id < ", request.before)]
    for clause, value in wanted:
        if value is not None:
            args.append(value)
            clauses.append(f"{clause}${len(args)}")
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _entry(row: asyncpg.Record) -> AuditEntry:
    at: datetime = row["at"]
    return AuditEntry(
        id=row["id"], at=at, actor_id=None if row["actor_id"] is None else str(row["actor_id"]),
        actor_name=row["actor_name"], action=row["action"], target=row["subject"],
        client_ip=row["client_ip"], detail=row["detail"])
