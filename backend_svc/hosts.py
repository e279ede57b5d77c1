"""Docker hosts as backend knows them: the load workers report and the drain an admin sets.

A host is known once a worker reported it. Its drained state lives here, not in any worker,
so it holds for every worker that shares the host (solve and session workers alike) and
survives their restarts; workers learn it from the reply to every heartbeat and place no new
work there, while what runs there goes on and finishes.
"""

from __future__ import annotations

import asyncpg

from backend_svc import audit
from common.contracts.admin import HostLoad, HostOut
from common.contracts.base import Principal
from common.errors import NotFound


async def report(conn: asyncpg.Connection, worker: str, loads: list[HostLoad]) -> list[str]:
    """Store ``worker``'s view of its hosts; return the names of every drained host."""
    if loads:
        names = [h.name for h in loads]
        await conn.execute(
            "INSERT INTO docker_hosts (name) SELECT unnest($1::text[]) ORDER BY 1 "
            "ON CONFLICT (name) DO NOTHING", names)
        await conn.executemany(
            "INSERT INTO docker_host_reports (host, worker, zone, healthy, slots, used_slots, "
            "memory_mb, used_memory_mb) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (host, worker) DO UPDATE SET zone = $3, healthy = $4, slots = $5, "
            "used_slots = $6, memory_mb = $7, used_memory_mb = $8, reported_at = now()",
            [(h.name, worker, h.zone, h.healthy, h.slots, h.used_slots, h.memory_mb,
              h.used_memory_mb) for h in loads])
    return [r["name"] for r in await conn.fetch(
        "SELECT name FROM docker_hosts WHERE drained ORDER BY name")]


_SELECT = """
SELECT h.name, h.drained, h.drained_by, h.drained_at,
       coalesce(max(r.zone), '') AS zone,
       coalesce(bool_and(r.healthy), false) AS healthy,
       coalesce(max(r.slots), 0) AS slots, coalesce(max(r.used_slots), 0) AS used_slots,
       coalesce(max(r.memory_mb), 0) AS memory_mb,
       coalesce(max(r.used_memory_mb), 0) AS used_memory_mb,
       coalesce(array_agg(r.worker ORDER BY r.worker) FILTER (WHERE r.worker IS NOT NULL),
                '{}') AS workers,
       max(r.reported_at) AS reported_at
FROM docker_hosts h
LEFT JOIN docker_host_reports r
       ON r.host = h.name AND r.reported_at > now() - make_interval(secs => $1)
"""


async def list_hosts(conn: asyncpg.Connection, *, live_s: float) -> list[HostOut]:
    """Every known host; load figures from reports younger than ``live_s``."""
    rows = await conn.fetch(f"{_SELECT} GROUP BY h.name ORDER BY h.name", live_s)
    return [_host(r) for r in rows]


async def set_drained(conn: asyncpg.Connection, actor: Principal, name: str, drained: bool,
                      *, live_s: float) -> HostOut:
    """Drain (``drained``) or return host ``name``, audited as ``host.drain``/``host.return``.

    Raises NotFound for a host no worker ever reported. Draining a drained host (or
    returning one in service) changes nothing and writes no audit row.
    """
    changed = await conn.fetchval(
        "UPDATE docker_hosts SET drained = $2, drained_by = CASE WHEN $2 THEN $3 END, "
        "drained_at = CASE WHEN $2 THEN now() END WHERE name = $1 AND drained <> $2 "
        "RETURNING name", name, drained, actor.username)
    if changed is not None:
        await audit.record(conn, actor, "host.drain" if drained else "host.return", name)
    row = await conn.fetchrow(f"{_SELECT} WHERE h.name = $2 GROUP BY h.name", live_s, name)
    if row is None:
        raise NotFound("host not found")
    return _host(row)


def _host(row: asyncpg.Record) -> HostOut:
    return HostOut(
        name=row["name"], zone=row["zone"], drained=row["drained"],
        drained_by=row["drained_by"], drained_at=row["drained_at"], healthy=row["healthy"],
        slots=row["slots"], used_slots=row["used_slots"], memory_mb=row["memory_mb"],
        used_memory_mb=row["used_memory_mb"], workers=list(row["workers"]),
        reported_at=row["reported_at"])
