"""This portal instance's own feed of domain events from ``modelport.events``.

Every portal replica binds its own exclusive, auto-delete queue (so each replica sees every
event) to the routing patterns it follows, and hands each readable CloudEvent to a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError

from common.amqp import topology
from common.contracts.events import CloudEvent

log = structlog.get_logger(__name__)


class EventConsumer:
    """Feeds ``on_event`` from this instance's own queue bound to ``patterns``."""

    def __init__(self, connection: AbstractRobustConnection, patterns: Iterable[str],
                 on_event: Callable[[CloudEvent], object]) -> None:
        self._connection = connection
        self._patterns = tuple(patterns)
        self._on_event = on_event
        self._channel: AbstractChannel | None = None

    async def start(self) -> None:
        """Declare the exclusive, auto-delete queue, bind it and start consuming."""
        channel = await self._connection.channel()
        await topology.declare_base(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for pattern in self._patterns:
            await queue.bind(topology.EVENTS, routing_key=pattern)
        await queue.consume(self._on_message, no_ack=True)
        self._channel = channel

    async def stop(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = CloudEvent.model_validate_json(message.body)
        except ValidationError:
            log.warning("event_unreadable", routing_key=message.routing_key)
            return
        self._on_event(event)
