"""What admins do with quotas: read and replace the overrides of a user or a group, list them
all, and read usage per user and app over a period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from backend_svc import audit, quotas
from backend_svc.quotas import QuotaRules
from common.contracts.base import Principal
from common.contracts.quotas import (
    QuotaKind,
    QuotaOverview,
    QuotasOut,
    QuotaValues,
    UsageReport,
    UsageRow,
)
from common.errors import BadRequest, NotFound

_COLUMN = {"user": "user_id", "group": "group_id"}


async def _target_id(conn: asyncpg.Connection, kind: QuotaKind, name: str) -> uuid.UUID:
    table, what = ("users", "username") if kind == "user" else ("groups", "name")
    found = await conn.fetchval(f"SELECT id FROM {table} WHERE {what} = $1", name)
    if found is None:
        raise NotFound(f"{kind} {name!r} not found", code=f"unknown_{kind}")
    return found


async def get(conn: asyncpg.Connection, kind: QuotaKind, name: str,
              rules: QuotaRules) -> QuotasOut:
    """The overrides of the user or group ``name``; for a user, each effective quota and its
    use. NotFound ``unknown_user`` / ``unknown_group``."""
    target = await _target_id(conn, kind, name)
    rows = await conn.fetch(
        f"SELECT quota, value FROM quota_overrides WHERE {_COLUMN[kind]} = $1", target)
    effective = await quotas.lines(conn, target, rules) if kind == "user" else []
    return QuotasOut(kind=kind, name=name, overrides=quotas.values_of(rows), effective=effective)


async def set_overrides(
    conn: asyncpg.Connection, actor: Principal, kind: QuotaKind, name: str,
    values: QuotaValues, rules: QuotaRules,
) -> QuotasOut:
    """Replace the overrides of ``name`` with ``values`` (None: no override); audited."""
    target = await _target_id(conn, kind, name)
    column = _COLUMN[kind]
    await conn.execute(f"DELETE FROM quota_overrides WHERE {column} = $1", target)
    given = {q: v for q, v in values.model_dump(exclude={"v"}).items() if v is not None}
    await conn.executemany(
        f"INSERT INTO quota_overrides ({column}, quota, value) VALUES ($1, $2, $3)",
        [(target, q, v) for q, v in given.items()])
    action = "quota.set_user" if kind == "user" else "quota.set_group"
    await audit.record(conn, actor, action, str(target), {"name": name, **given})
    return await get(conn, kind, name, rules)


async def overview(conn: asyncpg.Connection, rules: QuotaRules) -> QuotaOverview:
    """The defaults and every override, users first, each by name."""
    rows = await conn.fetch(
        "SELECT coalesce(u.username, g.name) AS name, CASE WHEN o.user_id IS NULL THEN 'group' "
        "ELSE 'user' END AS kind, o.quota, o.value FROM quota_overrides o "
        "LEFT JOIN users u ON u.id = o.user_id LEFT JOIN groups g ON g.id = o.group_id "
        "ORDER BY kind DESC, name, o.quota")
    grouped: dict[tuple[str, str], list[asyncpg.Record]] = {}
    for row in rows:
        grouped.setdefault((row["kind"], row["name"]), []).append(row)
    return QuotaOverview(
        defaults=QuotaValues(**rules.defaults),
        overrides=[QuotasOut(kind=kind, name=name,
                             overrides=quotas.values_of(found), effective=[])
                   for (kind, name), found in grouped.items()])


_USAGE = """
WITH s AS (
    SELECT s.user_id, v.app_id, count(*) AS sessions, sum(extract(epoch FROM
           least(coalesce(s.ended_at, now()), $2) - greatest(s.started_at, $1))) / 3600.0 AS hours
    FROM sessions s JOIN app_versions v ON v.id = s.app_version_id
    WHERE s.started_at IS NOT NULL AND s.started_at < $2 AND coalesce(s.ended_at, now()) > $1
    GROUP BY 1, 2
), j AS (
    SELECT user_id, app_id, count(DISTINCT job_id) AS jobs, sum(cpus * extract(epoch FROM
           least(coalesce(ended_at, now()), $2) - greatest(started_at, $1))) AS cpu_seconds
    FROM job_attempts WHERE started_at < $2 AND coalesce(ended_at, now()) > $1
    GROUP BY 1, 2
)
SELECT u.username AS user, a.name AS app, coalesce(s.hours, 0) AS session_hours,
       coalesce(j.cpu_seconds, 0) AS job_cpu_seconds, coalesce(s.sessions, 0) AS sessions,
       coalesce(j.jobs, 0) AS jobs
FROM s FULL JOIN j ON j.user_id = s.user_id AND j.app_id = s.app_id
JOIN users u ON u.id = coalesce(s.user_id, j.user_id)
JOIN apps a ON a.id = coalesce(s.app_id, j.app_id)
ORDER BY u.username, a.name
"""


async def usage(
    conn: asyncpg.Connection, start: datetime | None, end: datetime | None
) -> UsageReport:
    """Session hours and job CPU seconds per user and app in [start, end), clipped to it.

    Defaults: from the first of this month (UTC) to now. BadRequest ``bad_period`` when the
    end is not after the start or either has no time zone."""
    now = datetime.now(UTC)
    start = start or now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = end or now
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRequest("give the period's times with a time zone (such as Z)",
                         code="bad_period")
    if end <= start:
        raise BadRequest(f"the period ends ({end.isoformat()}) before it starts "
                         f"({start.isoformat()})", code="bad_period")
    rows = await conn.fetch(_USAGE, start, end)
    return UsageReport(start=start, end=end, rows=[
        UsageRow(user=r["user"], app=r["app"], session_hours=round(float(r["session_hours"]), 4),
                 job_cpu_seconds=round(float(r["job_cpu_seconds"]), 3),
                 sessions=int(r["sessions"]), jobs=int(r["jobs"])) for r in rows])
