"""Lists the portal answers without asking the backend each time: the apps a user may use
(``GET /api/v1/apps``), the cases they see (``GET /api/v1/cases``) and their jobs
(``GET /api/v1/jobs``, with queue positions).

Each answer (the reply's JSON, as sent) is kept per kind, user, role and query — everything
the backend's answer depends on besides the data — for at most ``list_cache_ttl_s`` (jobs:
``jobs_cache_ttl_s``, short: a waiting job falling due moves positions without an event), and
dropped as soon as that data changes:

- by an event on ``modelport.events`` (:data:`PATTERNS`), which every portal replica consumes
  on its own queue; :func:`stale_after` says which answers each one makes stale. Job events
  (any of them drops every jobs list: a change to one job can move the positions of all
  others) come from the live streams' own consumer (:mod:`portal_svc.live.jobs`), which hands
  each one to the cache before any stream shows it: a client that saw an event reads a list
  that reflects it;
- by a write made through this portal (:func:`drop_after_writes`): the writer reads what it
  wrote on this replica at once, without waiting for the event;
- by a reconnect of the broker link (events may have been missed meanwhile): everything.

A lookup in flight when an invalidation arrives answers its own waiters but is not kept
(:meth:`ShortCache.invalidate`), so a kept answer never predates a change this replica has
heard of. The backend still decides who sees what: the cache only replays its answers to the
same user with the same role. docs/performance.md ("Read cache") says how stale an answer can
be.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

import structlog
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from common.contracts.base import Principal
from common.contracts.cases import CaseEvent
from common.contracts.events import CloudEvent
from common.contracts.groups import GroupEvent
from common.contracts.registry import AppRightsEvent, AppVersionEvent
from common.contracts.users import UserRoleChanged
from portal_svc.live.consumer import EventConsumer
from portal_svc.openapi import Handler
from portal_svc.short_cache import ShortCache

log = structlog.get_logger(__name__)
APPS = "apps"
CASES = "cases"
JOBS = "jobs"
MAX_LIST_TTL_S = 300.0
PATTERNS = ("modelport.app.*", "modelport.group.*", "modelport.case.*", UserRoleChanged.TYPE)
JOB_EVENT_PREFIX = "modelport.job."
JOB_WRITES = ("/api/v1/jobs", "/jobs")
"""Paths whose writes (submit, cancel, interrupt) change jobs only: they drop the jobs lists."""
UNRELATED_WRITES = ("/api/v1/sessions", "/sessions", "/s/", "/api/v1/auth", "/login",
                    "/logout", "/api/v1/tokens", "/account/tokens")
"""Paths whose writes change no app, right, group, case or job: they keep the cache."""


@dataclass(frozen=True)
class Answer:
    """A kept answer and whose it is."""

    kind: str
    user_id: str | None
    username: str
    body: bytes


Stale = Callable[[Answer], bool]


def _everything(_: Answer) -> bool:
    return True


def _jobs(answer: Answer) -> bool:
    return answer.kind == JOBS


def stale_after(event: CloudEvent) -> Stale | None:
    """Which kept answers ``event`` makes stale; None when it changes none of them. An event
    of a followed type whose data lacks what a narrower rule needs drops everything."""
    kind, data = event.type, event.data
    if kind.startswith(JOB_EVENT_PREFIX):  # any job can move the others' positions
        return _jobs
    if kind == AppVersionEvent.DELETED:  # also the cases of that version (they lose it)
        return _everything
    if kind in (AppVersionEvent.PUBLISHED, AppVersionEvent.ACTIVATED, AppRightsEvent.TYPE):
        # versions, titles, use-groups: everyone's apps
        return lambda a: a.kind == APPS
    if kind in (GroupEvent.MEMBER_ADDED, GroupEvent.MEMBER_REMOVED):
        member = data.get("username")  # their apps; and every case list (the group's shares)
        return _everything if member is None else \
            (lambda a: a.kind == CASES or a.username == member)
    if kind == UserRoleChanged.TYPE:
        user_id = data.get("user_id")
        return _everything if user_id is None else (lambda a: a.user_id == user_id)
    if kind in (CaseEvent.CREATED, CaseEvent.UPDATED, CaseEvent.DELETED):
        owner = data.get("owner")
        if data.get("groups") or owner is None:  # shared: the group's members see it change
            return lambda a: a.kind == CASES
        return lambda a: a.kind == CASES and a.username == owner
    return None


class ListCache:
    """Kept list answers (see the module docstring): the apps and cases lists for ``ttl_s``,
    the jobs lists for ``jobs_ttl_s``, each apart so that the frequent job events disturb no
    other list; a TTL of 0 keeps none of its lists."""

    def __init__(self, ttl_s: float, *, jobs_ttl_s: float = 0.0, max_entries: int = 2_000,
                 clock: Callable[[], float] = time.monotonic):
        def store(ttl: float) -> ShortCache[Hashable, Answer]:
            return ShortCache(ttl, max_entries=max_entries, clock=clock,
                              ceiling_s=MAX_LIST_TTL_S)

        self._lists, self._jobs = store(ttl_s), store(jobs_ttl_s)

    def __len__(self) -> int:
        return len(self._lists) + len(self._jobs)

    async def answer(self, kind: str, caller: Principal, query: Hashable,
                     lookup: Callable[[], Awaitable[bytes]]) -> bytes:
        """The body of ``kind``'s answer to ``caller`` for ``query``: kept, shared with a
        lookup in flight, or ``lookup``'s (whose errors are raised and never kept)."""
        answers = self._jobs if kind == JOBS else self._lists
        if answers.ttl_s <= 0:
            return await lookup()

        async def look_up() -> Answer:
            return Answer(kind, caller.user_id, caller.username, await lookup())

        key = (kind, caller.user_id, caller.role, query)
        return (await answers.get(key, look_up)).body

    def on_event(self, event: CloudEvent) -> None:
        """Drop what ``event`` makes stale."""
        stale = stale_after(event)
        if stale is None:
            return
        self._jobs.invalidate(stale)
        if stale is not _jobs:
            self._lists.invalidate(stale)

    def drop_jobs(self) -> None:
        """Drop every jobs list (a job written here)."""
        self._jobs.invalidate(_everything)

    def clear(self, *_: object) -> None:
        """Drop everything (a write here, a broker reconnect)."""
        self._lists.invalidate(_everything)
        self._jobs.invalidate(_everything)


LIST_CACHE = web.AppKey("list_cache", ListCache)


def list_cache_consumer(connection: AbstractRobustConnection, cache: ListCache) -> EventConsumer:
    """This replica's feed of the events that make kept lists stale; a reconnect of
    ``connection`` clears the cache (events published meanwhile did not reach us)."""
    connection.reconnect_callbacks.add(cache.clear)
    return EventConsumer(connection, PATTERNS, cache.on_event)


@web.middleware
async def drop_after_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a write through this portal that may change an app, its rights, a group or a
    case (any unsafe method outside :data:`UNRELATED_WRITES` and :data:`JOB_WRITES`), drop
    every kept list; after a job write, every jobs list; whatever the outcome: its writer
    reads it back here at once."""
    if request.method in ("GET", "HEAD", "OPTIONS") or \
            request.path.startswith(UNRELATED_WRITES):
        return await handler(request)
    cache = request.app[LIST_CACHE]
    try:
        return await handler(request)
    finally:
        if request.path.startswith(JOB_WRITES):
            cache.drop_jobs()
        else:
            cache.clear()
