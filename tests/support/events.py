"""A test consumer bound to ``modelport.events``: collects CloudEvents as they arrive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from common.amqp import topology


class Recorder:
    """Messages as they arrive, and a wait for the first one matching a predicate."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()

    async def add(self, item: dict[str, Any]) -> None:
        async with self._arrived:
            self.items.append(item)
            self._arrived.notify_all()

    async def wait_for(self, predicate: Any, timeout_s: float = 15.0) -> dict[str, Any]:
        """The first recorded item matching ``predicate``, waiting up to ``timeout_s``."""

        def found() -> dict[str, Any] | None:
            return next((item for item in self.items if predicate(item)), None)

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: found() is not None), timeout_s)
        item = found()
        assert item is not None
        return item


class EventTap:
    """Binds an exclusive queue to the events exchange with ``pattern`` and records bodies.

    ``durable=True`` makes it the outside consumer of the fault tests: a named durable queue
    on a robust connection, so events published while the broker restarts are kept and
    delivered after it (the queue is deleted at the end).
    """

    def __init__(self, amqp_url: str, pattern: str = "#", *, durable: bool = False):
        self._url = amqp_url
        self._pattern = pattern
        self._durable = durable
        self._recorder = Recorder()
        self.events = self._recorder.items
        self.wait_for = self._recorder.wait_for

    async def __aenter__(self) -> EventTap:
        connect = aio_pika.connect_robust if self._durable else aio_pika.connect
        self._connection = await connect(self._url)
        channel = await self._connection.channel()
        await topology.declare_base(channel)
        if self._durable:
            self._queue = await channel.declare_queue(f"mp-test-tap-{uuid.uuid4().hex[:12]}",
                                                      durable=True)
        else:
            self._queue = await channel.declare_queue(exclusive=True)
        await self._queue.bind(topology.EVENTS, routing_key=self._pattern)
        await self._queue.consume(self._on_message, no_ack=not self._durable)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._durable:
            with contextlib.suppress(Exception):
                await self._queue.delete(if_unused=False, if_empty=False)
        await self._connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        await self._recorder.add(json.loads(message.body) | {"_routing_key": message.routing_key})
        if self._durable:
            await message.ack()

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]


def ran_twice(events: list[dict[str, Any]], job_id: str) -> bool:
    """Whether the job ran twice by its events (deduplicated by id): an attempt started while
    an earlier one was not declared lost, or more than one outcome."""
    unique = {e["id"]: e for e in events if e["subject"] == job_id}  # copies count once
    kinds = Counter(e["type"].rsplit(".", 1)[1] for e in unique.values())
    outcomes = kinds["succeeded"] + kinds["failed"] + kinds["cancelled"]
    return kinds["started"] > kinds["lost"] + 1 or outcomes > 1
