"""The job scheduler: which queued job runs next, and where.

Order (pure, see :class:`FairQueue`): priority (high first), then fair share (the user with
fewer running jobs first, counting those started in the same tick), then age. :func:`plan`
walks that order, skipping jobs whose user or app is at its running limit, and places each
job on the worker with the most free slots. :mod:`backend_svc.dispatch` runs it on a bounded
window of each user's queue (:func:`plan_window`) as an exclusive duty.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    """A queued job as the scheduler sees it."""

    id: Hashable
    user: Hashable
    app: Hashable
    priority: int
    created_at: datetime


@dataclass(frozen=True)
class Limits:
    """Running jobs at once: ``per_user`` for a user not in ``user_caps`` (their
    ``running_jobs`` quota), ``per_app`` for every app."""

    per_user: int
    per_app: int
    user_caps: Mapping[Hashable, int] = field(default_factory=dict)

    def of_user(self, user: Hashable) -> int:
        return self.user_caps.get(user, self.per_user)


@dataclass(frozen=True)
class Assignment:
    job: Candidate
    worker: str


class FairQueue:
    """Candidates in scheduling order; the next one depends on who was started before it.

    :meth:`pop` gives the best head over all users; the caller then tells :meth:`advance`
    whether that job started (the user's running count grows) or was skipped. A user not
    advanced is dropped (at their limit).
    """

    def __init__(self, candidates: Iterable[Candidate], running_by_user: Mapping[Hashable, int]):
        self._running: Counter[Hashable] = Counter(running_by_user)
        self._jobs: dict[Hashable, deque[Candidate]] = {}
        for job in sorted(candidates, key=lambda c: (-c.priority, c.created_at)):
            self._jobs.setdefault(job.user, deque()).append(job)
        self._seq = itertools.count()
        self.drained: set[Hashable] = set()  # users whose every candidate was popped
        self._heap: list[tuple[int, int, datetime, int, Hashable]] = []
        for user in self._jobs:
            self._push(user)

    def running(self, user: Hashable) -> int:
        return self._running[user]

    def _push(self, user: Hashable) -> None:
        jobs = self._jobs[user]
        if jobs:
            head = jobs[0]
            key = (-head.priority, self._running[user], head.created_at, next(self._seq), user)
            heapq.heappush(self._heap, key)

    def pop(self) -> Candidate | None:
        """The next job in order, or None when no user has one left."""
        if not self._heap:
            return None
        user = heapq.heappop(self._heap)[-1]
        job = self._jobs[user].popleft()
        if not self._jobs[user]:
            self.drained.add(user)
        return job

    def advance(self, user: Hashable, *, started: bool) -> None:
        if started:
            self._running[user] += 1
        self._push(user)


def order(
    candidates: Iterable[Candidate], running_by_user: Mapping[Hashable, int]
) -> list[Candidate]:
    """Every candidate in the order the scheduler would start them (no limits, no capacity)."""
    queue = FairQueue(candidates, running_by_user)
    ordered = []
    while (job := queue.pop()) is not None:
        ordered.append(job)
        queue.advance(job.user, started=True)
    return ordered


@dataclass(frozen=True)
class Plan:
    """What :func:`plan_window` chose, and the users whose candidates it used up."""

    chosen: list[Assignment]
    drained: set[Hashable]


def plan(
    candidates: Iterable[Candidate], *, running_by_user: Mapping[Hashable, int],
    running_by_app: Mapping[Hashable, int], free_slots: Mapping[str, int], limits: Limits,
) -> list[Assignment]:
    """The jobs to start now and their workers, in scheduling order.

    A job is skipped while its app is at ``limits.per_app``; a user is left out once at
    their limit (``limits.of_user``). Each job goes to the worker with the most free slots.
    """
    return plan_window(candidates, running_by_user=running_by_user,
                       running_by_app=running_by_app, free_slots=free_slots,
                       limits=limits).chosen


def plan_window(
    candidates: Iterable[Candidate], *, running_by_user: Mapping[Hashable, int],
    running_by_app: Mapping[Hashable, int], free_slots: Mapping[str, int], limits: Limits,
) -> Plan:
    """:func:`plan`, also saying which users' candidates were all considered.

    Given only the first few queued jobs of each user (in the user's order), the result is
    the same as over the whole queue unless a user whose window was cut short is in
    ``drained``: a user's later jobs are only reached after all of their earlier ones.
    """
    slots = {w: n for w, n in free_slots.items() if n > 0}
    by_app: Counter[Hashable] = Counter(running_by_app)
    queue = FairQueue(candidates, running_by_user)
    chosen: list[Assignment] = []
    while slots and (job := queue.pop()) is not None:
        if queue.running(job.user) >= limits.of_user(job.user):
            queue.drained.discard(job.user)  # their later jobs cannot start either
            continue  # the user is full: drop them for this tick
        if by_app[job.app] >= limits.per_app:
            queue.advance(job.user, started=False)
            continue
        worker = max(slots, key=lambda w: (slots[w], w))
        slots[worker] -= 1
        if not slots[worker]:
            del slots[worker]
        by_app[job.app] += 1
        queue.advance(job.user, started=True)
        chosen.append(Assignment(job, worker))
    return Plan(chosen, queue.drained)
