"""Where queued jobs stand: their positions in scheduling order, counted by index.

The scheduler's order (:mod:`backend_svc.scheduler`) is priority (high first), then fair share
(fewer running first, counting the jobs started before in the same order), then age. Within one
priority level that makes the k-th job (from 0, oldest first) of a user the key
``(b + k, created_at)``, where ``b`` is the user's running jobs plus their due jobs at higher
levels; the order pops keys from the lowest. So a due job's position is 1, plus every due job
at a higher level, plus, for each user ``v`` at its level with ``n`` jobs there and
``t = (b_u + k) - b_v``: nothing when ``t < 0``, all ``n`` when ``t >= n``, else ``t`` and one
more when v's t-th job is older. Each term is a count or rows read in index order through
``jobs_queued_by_user`` (for a page of targets, one range per user); nothing sorts the queue.
(Two jobs with the same key and the same ``created_at`` may come out in either order, as in
the scheduler.)

Jobs whose ``not_before`` has not passed follow all due ones, by ``(not_before, id)``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

ACTIVE_STATES = ("scheduled", "running")
DUE = "(j.not_before IS NULL OR j.not_before <= now())"

_TARGETS = (
    "SELECT j.id, j.user_id, j.priority, j.created_at, j.not_before, "
    f"{DUE} AS due FROM jobs j WHERE j.id = ANY($1::uuid[]) AND j.state = 'queued'"
)
_LEVELS = (f"SELECT j.user_id, j.priority, count(*) AS n FROM jobs j "
           f"WHERE j.state = 'queued' AND {DUE} GROUP BY 1, 2")
_RUNNING = "SELECT user_id, count(*) AS n FROM jobs WHERE state = ANY($1::text[]) GROUP BY 1"
_OWN_RANKS = (
    "SELECT t.id, (SELECT count(*) FROM jobs j WHERE j.state = 'queued' "
    f"AND j.user_id = t.user_id AND j.priority = t.priority AND j.created_at < t.created_at "
    f"AND {DUE}) AS k "
    "FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::timestamptz[]) "
    "AS t(id, user_id, priority, created_at)"
)
_RANGES = (  # rows lo .. lo+cnt-1 (from 0, oldest first) of user $1's due jobs at level $2
    "SELECT x.n, w.created_at FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) "
    "WITH ORDINALITY AS x(user_id, priority, lo, cnt, n) CROSS JOIN LATERAL ("
    "SELECT j.created_at FROM jobs j WHERE j.state = 'queued' AND j.user_id = x.user_id "
    f"AND j.priority = x.priority AND {DUE} ORDER BY j.created_at OFFSET x.lo LIMIT x.cnt) w"
)
_WAITING_AHEAD = (
    "SELECT t.id, (SELECT count(*) FROM jobs j WHERE j.state = 'queued' "
    "AND j.not_before > now() AND (j.not_before, j.id) < (t.not_before, t.id)) AS ahead "
    "FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, not_before)"
)

Level = tuple[Hashable, int]  # (user, priority)
Positions = Callable[[asyncpg.Connection, Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, int]]]
"""How a reader gets positions: :func:`queue_positions`, or a cache of its answers."""
Rows = dict[Level, tuple[int, list[datetime]]]  # created_at of rows lo, lo+1, … of a level


@dataclass(frozen=True)
class Target:
    """A due queued job whose position is asked: its user, level, age and rank ``k``."""

    id: Hashable
    user: Hashable
    priority: int
    created_at: datetime
    k: int


class QueueShape:
    """How many due jobs each user has at each priority level, and their running counts."""

    def __init__(self, levels: Iterable[tuple[Hashable, int, int]],
                 running: dict[Hashable, int]):
        counts: dict[Level, int] = {}
        per_user: dict[Hashable, dict[int, int]] = defaultdict(dict)
        for user, priority, n in levels:
            counts[user, priority] = n
            per_user[user][priority] = n
        self.total = sum(counts.values())
        self._higher = {p: sum(n for (_, q), n in counts.items() if q > p)
                        for p in {p for _, p in counts}}
        self._base = {(user, p): running.get(user, 0) + sum(m for q, m in mine.items() if q > p)
                      for user, mine in per_user.items() for p in mine}
        self._level: dict[int, list[tuple[Hashable, int, int]]] = defaultdict(list)
        for (user, p), n in counts.items():
            self._level[p].append((user, self._base[user, p], n))

    def _others(self, job: Target) -> list[tuple[Hashable, int, int]]:
        """(user, t, n) for every other user at the job's level (see the module docstring)."""
        key = self._base[job.user, job.priority] + job.k
        me = job.user
        return [(v, key - b, n) for v, b, n in self._level[job.priority] if v != me]

    def ties(self, jobs: Iterable[Target]) -> dict[Level, tuple[int, int]]:
        """For each other user's level, the rows (lo, hi) whose age decides a tie with one
        of ``jobs``: v's t-th job where ``0 <= t < n``."""
        ranges: dict[Level, tuple[int, int]] = {}
        for job in jobs:
            p = job.priority
            for v, t, n in self._others(job):
                if 0 <= t < n:
                    found = ranges.get((v, p))
                    if found is None:
                        ranges[v, p] = (t, t)
                    elif t < found[0]:
                        ranges[v, p] = (t, found[1])
                    elif t > found[1]:
                        ranges[v, p] = (found[0], t)
        return ranges

    def position(self, job: Target, rows: Rows) -> int:
        """1-based position of ``job``, given the rows of its :meth:`ties`."""
        ahead = self._higher[job.priority] + job.k
        p, created_at = job.priority, job.created_at
        for v, t, n in self._others(job):
            if t >= n:
                ahead += n
            elif t >= 0:
                lo, created = rows.get((v, p), (0, []))
                i = t - lo
                ahead += t + (0 <= i < len(created) and created[i] < created_at)
        return ahead + 1


async def queue_positions(
    conn: asyncpg.Connection, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Position (1 = next) of each of ``job_ids`` that is queued; others are left out."""
    if not conn.is_in_transaction():
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await _positions(conn, job_ids)
    return await _positions(conn, job_ids)


async def _positions(
    conn: asyncpg.Connection, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await conn.fetch(_TARGETS, list(job_ids))
    if not rows:
        return {}
    running = {r["user_id"]: r["n"] for r in await conn.fetch(_RUNNING, list(ACTIVE_STATES))}
    shape = QueueShape(((r["user_id"], r["priority"], r["n"]) for r in
                        await conn.fetch(_LEVELS)), running)
    due = await _targets(conn, [r for r in rows if r["due"]])
    rows_read = await _read_ranges(conn, shape.ties(due))
    positions = {job.id: shape.position(job, rows_read) for job in due}
    waiting = [r for r in rows if not r["due"]]
    if waiting:
        ahead = await conn.fetch(_WAITING_AHEAD, [r["id"] for r in waiting],
                                 [r["not_before"] for r in waiting])
        positions.update({r["id"]: shape.total + r["ahead"] + 1 for r in ahead})
    return positions  # type: ignore[return-value]


async def _targets(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Target]:
    if not rows:
        return []
    ranks = {r["id"]: r["k"] for r in await conn.fetch(
        _OWN_RANKS, [r["id"] for r in rows], [r["user_id"] for r in rows],
        [r["priority"] for r in rows], [r["created_at"] for r in rows])}
    return [Target(r["id"], r["user_id"], r["priority"], r["created_at"], ranks[r["id"]])
            for r in rows]


async def _read_ranges(conn: asyncpg.Connection, ranges: dict[Level, tuple[int, int]]) -> Rows:
    """The created_at of the rows of each range, one index range per user and level (the
    targets of a page sit side by side, so their ties do too)."""
    if not ranges:
        return {}
    keys = list(ranges)
    rows = await conn.fetch(_RANGES, [k[0] for k in keys], [k[1] for k in keys],
                            [ranges[k][0] for k in keys],
                            [ranges[k][1] - ranges[k][0] + 1 for k in keys])
    found: dict[Level, list[datetime]] = defaultdict(list)
    for r in rows:
        found[keys[r["n"] - 1]].append(r["created_at"])
    return {key: (ranges[key][0], sorted(found[key])) for key in keys}
