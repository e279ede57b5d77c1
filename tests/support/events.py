"""A test consumer bound to ``modelport.events``: collects CloudEvents as they arrive."""

from __future__ import annotations

import asyncio
import json
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
    """Binds an exclusive queue to the events exchange with ``pattern`` and records bodies."""

    def __init__(self, amqp_url: str, pattern: str = "#"):
        self._url = amqp_url
        self._pattern = pattern
        self._recorder = Recorder()
        self.events = self._recorder.items
        self.wait_for = self._recorder.wait_for

    async def __aenter__(self) -> EventTap:
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel()
        await topology.declare_base(channel)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(topology.EVENTS, routing_key=self._pattern)
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        await self._recorder.add(json.loads(message.body) | {"_routing_key": message.routing_key})

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]
