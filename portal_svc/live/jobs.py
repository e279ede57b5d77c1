"""Live job updates: ``modelport.job.*`` events from AMQP fanned out to browsers over SSE.

Each portal instance binds its own exclusive, auto-delete queue to ``modelport.job.#``
(:class:`JobEventConsumer`) and hands every event to the app's :class:`JobEventHub`, which
drops duplicates (by CloudEvent id) and offers the event to each subscriber allowed to see it:
the job's owner, and admins. A subscriber's queue is bounded: on a slow client the oldest
progress events go first, and a terminal event is never dropped.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import contextmanager
from typing import Any

import structlog
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from pydantic import ValidationError

from common.contracts.events import CloudEvent
from common.contracts.jobs import TERMINAL_STATES, JobEvent
from common.visibility import may_see_job
from portal_svc.auth import Caller
from portal_svc.live.consumer import EventConsumer
from portal_svc.live.revocation import OPEN_STREAMS

log = structlog.get_logger(__name__)
JOB_EVENTS_PATTERN = "modelport.job.#"
QUEUE_EVENTS = 100
SEEN_IDS = 10_000
HEARTBEAT_S = 15.0


class LiveEvent:
    """A job event as subscribers see it: the CloudEvent's id and type and the job's data."""

    __slots__ = ("id", "type", "job")

    def __init__(self, event_id: str, event_type: str, job: JobEvent) -> None:
        self.id, self.type, self.job = event_id, event_type, job

    @property
    def terminal(self) -> bool:
        return self.job.state in TERMINAL_STATES

    @property
    def progress(self) -> bool:
        return self.type == JobEvent.PROGRESS

    def sse(self) -> bytes:
        """The event as one ``text/event-stream`` message (event name: the type's last word)."""
        data = {"type": self.type, **self.job.model_dump(mode="json", exclude={"v"})}
        name = self.type.rsplit(".", 1)[-1]
        return f"id: {self.id}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode()


class Subscriber:
    """One client's bounded queue of events; ``wanted`` says which events it may see."""

    def __init__(self, wanted: Callable[[LiveEvent], bool], max_events: int = QUEUE_EVENTS):
        self.wanted = wanted
        self.max_events = max_events
        self.dropped = 0
        self._events: deque[LiveEvent] = deque()
        self._ready = asyncio.Event()
        self.closed = False
        self.revoked = False

    def offer(self, event: LiveEvent) -> None:
        """Queue ``event``; when full, make room by dropping the oldest progress event (or
        the oldest non-terminal one), and drop ``event`` itself only if it is progress."""
        if len(self._events) >= self.max_events and not self._make_room(event):
            self.dropped += 1
            return
        self._events.append(event)
        self._ready.set()

    def _make_room(self, incoming: LiveEvent) -> bool:
        for test in (lambda e: e.progress, lambda e: not e.terminal):
            victim = next((e for e in self._events if test(e)), None)
            if victim is not None:
                self._events.remove(victim)
                self.dropped += 1
                return True
        return incoming.terminal  # a terminal event may exceed the bound

    def __len__(self) -> int:
        return len(self._events)

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    def revoke(self) -> None:
        """End at once, dropping what is queued: the credential is no longer valid."""
        self.revoked = True
        self._events.clear()
        self.close()

    async def next(self, timeout_s: float) -> LiveEvent | None:
        """The next event, or None after ``timeout_s`` with nothing (or once closed)."""
        if not self._events and not self.closed:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout_s)
            except TimeoutError:
                return None
        return self._events.popleft() if self._events else None


class JobEventHub:
    """Fans job events out to subscribers, each event once (deduplicated by id)."""

    def __init__(self, *, seen_ids: int = SEEN_IDS) -> None:
        self._subscribers: set[Subscriber] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_max = seen_ids
        self.closed = False

    def publish(self, event: CloudEvent) -> bool:
        """Offer a ``modelport.job.*`` CloudEvent; False for a duplicate or malformed one."""
        if event.id in self._seen:
            return False
        self._remember(event.id)
        try:
            live = LiveEvent(event.id, event.type, JobEvent.model_validate(event.data))
        except ValidationError:
            log.warning("job_event_malformed", event_id=event.id, type=event.type)
            return False
        for subscriber in list(self._subscribers):
            if subscriber.wanted(live):
                subscriber.offer(live)
        return True

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        while len(self._seen) > self._seen_max:
            self._seen.popitem(last=False)

    @contextmanager
    def subscribe(self, wanted: Callable[[LiveEvent], bool], max_events: int = QUEUE_EVENTS
                  ) -> Any:
        """A :class:`Subscriber` for the duration of the ``with`` block."""
        subscriber = Subscriber(wanted, max_events)
        if self.closed:
            subscriber.close()
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """End every subscription (the portal is shutting down)."""
        self.closed = True
        for subscriber in self._subscribers:
            subscriber.close()


def visible_to(caller: Caller, job_id: str | None = None) -> Callable[[LiveEvent], bool]:
    """Events of the jobs the caller may see (:func:`~common.visibility.may_see_job`, the
    rule backend applies), of ``job_id`` only if given."""
    viewer = caller.principal

    def wanted(event: LiveEvent) -> bool:
        if job_id is not None and event.job.job_id != job_id:
            return False
        return may_see_job(viewer, event.job.user)

    return wanted


JOB_HUB = web.AppKey("job_event_hub", JobEventHub)


async def open_stream(request: web.Request) -> web.StreamResponse:
    """A prepared ``text/event-stream`` response that proxies must not buffer."""
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    await response.write(b"retry: 3000\n\n")
    return response


async def events(subscriber: Subscriber, heartbeat_s: float = HEARTBEAT_S
                 ) -> AsyncIterator[LiveEvent | None]:
    """The subscriber's events as they come; None for each quiet ``heartbeat_s``. Ends once
    the subscriber is closed and drained, at once when it is revoked."""
    while not subscriber.closed or len(subscriber):
        event = await subscriber.next(heartbeat_s)
        if subscriber.revoked:
            return
        yield event


async def stream_job_events(request: web.Request, caller: Caller) -> web.StreamResponse:
    """Serve the caller's job events over SSE until the client or the portal goes away."""
    hub = request.app[JOB_HUB]
    with hub.subscribe(visible_to(caller)) as subscriber, \
            request.app[OPEN_STREAMS].track(caller, subscriber.revoke):
        response = await open_stream(request)
        try:
            async for event in events(subscriber):
                await response.write(event.sse() if event else b": keep-alive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            log.debug("sse_client_gone", dropped=subscriber.dropped)
            raise
    return response


class JobEventConsumer(EventConsumer):
    """Feeds ``hub`` from this instance's own queue bound to ``modelport.job.#``, each event
    after ``first`` had it (the list cache's drop, so a client that saw an event here reads
    lists that reflect it)."""

    def __init__(self, connection: AbstractRobustConnection, hub: JobEventHub,
                 first: Callable[[CloudEvent], object] = lambda _: None) -> None:
        super().__init__(connection, (JOB_EVENTS_PATTERN,), self._feed)
        self._hub, self._first = hub, first

    def _feed(self, event: CloudEvent) -> None:
        self._first(event)
        self._hub.publish(event)

    async def stop(self) -> None:
        await super().stop()
        self._hub.close()
