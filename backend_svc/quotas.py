"""Quotas: each user's effective limits, what they hold or used, and the checks that refuse.

A user's effective quota is their own override, else the most generous override of the
groups they belong to, else the default from backend's settings (:class:`QuotaRules`).
Checks run in the caller's transaction after :func:`lock_user`, so two concurrent requests of
one user are counted one after the other and cannot both pass the last free place.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from backend_svc.settings import BackendSettings
from common.contracts.quotas import QUOTAS, QuotaLine, QuotaValues, Source
from common.contracts.sessions import LIVE_STATES
from common.errors import ModelportError, QuotaExceeded

QUOTA_LOCK_CLASS = 0x6D70  # first key of the per-user advisory lock ("mp")
MONTH_START = "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


class TimeLimitTooLong(ModelportError):
    code, status = "time_limit_too_long", 422


@dataclass(frozen=True)
class QuotaRules:
    """The defaults of every quota and the job time limits, from backend's settings."""

    defaults: dict[str, int]
    default_time_limit_s: int
    max_time_limit_s: int

    @classmethod
    def of(cls, s: BackendSettings) -> QuotaRules:
        return cls(defaults={
            "queued_jobs": s.max_queued_per_user, "running_jobs": s.max_running_per_user,
            "sessions": s.max_sessions_per_user, "cpu_hours_month": s.max_cpu_hours_per_month,
            "storage_bytes": s.max_case_storage_mb * 1024 * 1024,
        }, default_time_limit_s=s.default_time_limit_s, max_time_limit_s=s.max_time_limit_s)

    def time_limit(self, asked: int | None) -> int:
        """The job's time limit: ``asked``, or the default; TimeLimitTooLong (422) over the
        maximum."""
        if asked is None:
            return self.default_time_limit_s
        if asked > self.max_time_limit_s:
            raise TimeLimitTooLong(f"a job's time limit is at most {self.max_time_limit_s} s "
                                   f"(asked {asked} s)")
        return asked


async def lock_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Hold the user's quota lock until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2::text))",
                       QUOTA_LOCK_CLASS, str(user_id))


_OVERRIDES = (
    "SELECT o.quota, o.value, 'user' AS source FROM quota_overrides o WHERE o.user_id = $1 "
    "UNION ALL SELECT o.quota, max(o.value), 'group' FROM quota_overrides o "
    "JOIN memberships m ON m.group_id = o.group_id WHERE m.user_id = $1 GROUP BY o.quota"
)


async def effective(
    conn: asyncpg.Connection, user_id: uuid.UUID, rules: QuotaRules
) -> dict[str, tuple[int, Source]]:
    """Each quota of the user and where it comes from."""
    found: dict[str, tuple[int, Source]] = {q: (v, "default") for q, v in rules.defaults.items()}
    for row in sorted(await conn.fetch(_OVERRIDES, user_id), key=lambda r: r["source"]):
        if found[row["quota"]][1] != "user":  # 'group' sorts first; the user's own wins
            found[row["quota"]] = (int(row["value"]), row["source"])
    return found


async def running_caps(
    conn: asyncpg.Connection, user_ids: Sequence[Hashable], default: int
) -> dict[Hashable, int]:
    """The ``running_jobs`` quota of each user (the scheduler's per-user limit)."""
    rows = await conn.fetch(
        "SELECT u.id, coalesce((SELECT value FROM quota_overrides WHERE user_id = u.id AND "
        "quota = 'running_jobs'), (SELECT max(o.value) FROM quota_overrides o JOIN memberships "
        "m ON m.group_id = o.group_id WHERE m.user_id = u.id AND o.quota = 'running_jobs'), $2) "
        "AS cap FROM unnest($1::uuid[]) AS u(id)", list(user_ids), default)
    return {r["id"]: int(r["cap"]) for r in rows}


async def used(conn: asyncpg.Connection, user_id: uuid.UUID, quota: str) -> int:
    """What the user holds (or used this month, CPU-hours rounded up) of ``quota``."""
    if quota == "queued_jobs":
        sql = "SELECT count(*) FROM jobs WHERE user_id = $1 AND state = 'queued'"
    elif quota == "running_jobs":
        sql = ("SELECT count(*) FROM jobs WHERE user_id = $1 "
               "AND state IN ('scheduled', 'running')")
    elif quota == "sessions":
        return int(await conn.fetchval(
            "SELECT count(*) FROM sessions WHERE user_id = $1 AND state = ANY($2::text[])",
            user_id, list(LIVE_STATES)))
    elif quota == "storage_bytes":
        sql = "SELECT coalesce(sum(size_bytes), 0) FROM cases WHERE owner_id = $1"
    else:
        seconds = await cpu_seconds_this_month(conn, user_id)
        return -(-int(seconds) // 3600)
    return int(await conn.fetchval(sql, user_id))


async def cpu_seconds_this_month(conn: asyncpg.Connection, user_id: uuid.UUID) -> float:
    """CPU seconds of the user's job attempts since the month began (UTC), running ones to
    now: each attempt's run time in the month times its cores."""
    return float(await conn.fetchval(
        f"SELECT coalesce(sum(cpus * extract(epoch FROM coalesce(ended_at, now()) - "
        f"greatest(started_at, {MONTH_START}))), 0) FROM job_attempts "
        f"WHERE user_id = $1 AND coalesce(ended_at, now()) > {MONTH_START}", user_id))


async def lines(
    conn: asyncpg.Connection, user_id: uuid.UUID, rules: QuotaRules
) -> list[QuotaLine]:
    """Each quota of the user with its source and use."""
    limits = await effective(conn, user_id, rules)
    return [QuotaLine(quota=q, limit=limits[q][0], source=limits[q][1],
                      used=await used(conn, user_id, q)) for q in QUOTAS]


async def _refuse_at(
    conn: asyncpg.Connection, user_id: uuid.UUID, quota: str, rules: QuotaRules, *,
    adding: int = 1, hint: str = "", retry_after_s: int = 60,
) -> None:
    limit = (await effective(conn, user_id, rules))[quota][0]
    now_used = await used(conn, user_id, quota)
    if now_used + adding > limit:
        raise QuotaExceeded.of(quota, QUOTAS[quota], used=now_used, limit=limit,
                               retry_after_s=retry_after_s, hint=hint)


async def check_submit(conn: asyncpg.Connection, user_id: uuid.UUID, rules: QuotaRules) -> None:
    """Refuse a job submit past ``queued_jobs`` or once ``cpu_hours_month`` is used up.
    Call with :func:`lock_user` held."""
    await _refuse_at(conn, user_id, "queued_jobs", rules,
                     hint="wait for some to start or cancel one")
    limit = (await effective(conn, user_id, rules))["cpu_hours_month"][0]
    seconds = await cpu_seconds_this_month(conn, user_id)
    if seconds >= limit * 3600:
        raise QuotaExceeded.of("cpu_hours_month", QUOTAS["cpu_hours_month"],
                               used=-(-int(seconds) // 3600), limit=limit,
                               retry_after_s=_to_next_month(), hint="they renew next month")


async def check_session(conn: asyncpg.Connection, user_id: uuid.UUID, rules: QuotaRules) -> None:
    """Refuse a session past ``sessions``. Call with :func:`lock_user` held."""
    await _refuse_at(conn, user_id, "sessions", rules, hint="stop one first")


async def check_storage(
    conn: asyncpg.Connection, user_id: uuid.UUID, adding: int, rules: QuotaRules
) -> None:
    """Refuse a case of ``adding`` bytes that would pass ``storage_bytes``. Call with
    :func:`lock_user` held."""
    await _refuse_at(conn, user_id, "storage_bytes", rules, adding=adding,
                     hint=f"this case needs {adding}; delete some cases first")


def _to_next_month() -> int:
    now = datetime.now(UTC)
    first = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return max(1, int((first - now).total_seconds()))


def values_of(rows: Sequence[asyncpg.Record]) -> QuotaValues:
    """The overrides in ``rows`` (quota, value) as one contract."""
    return QuotaValues(**{r["quota"]: int(r["value"]) for r in rows})
