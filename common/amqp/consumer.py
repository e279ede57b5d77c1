"""A work-queue consumer that acks only after the work is done and dead-letters poison.

A handler that raises is retried: the message is re-published to its queue with the attempt
count in a header, then the original is acked (confirms make the copy safe before the ack).
After ``max_attempts`` it is published to the dead-letter exchange with the final count, the
queue it came from and the last error in its headers, then acked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from common.amqp import topology
from common.amqp.identity import broker_user
from common.logging import bind_correlation

log = structlog.get_logger(__name__)
MessageHandler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Consumer:
    """Consumes one durable work queue with bounded prefetch."""

    def __init__(
        self, connection: AbstractRobustConnection, queue_name: str, handler: MessageHandler,
        *, prefetch: int, max_attempts: int = 5,
    ):
        self._connection = connection
        self._queue_name = queue_name
        self._handler = handler
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._in_flight: set[asyncio.Task[object]] = set()
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self._prefetch)
        await topology.declare_base(self._channel)
        self._queue = await self._declare(self._channel, self._queue_name)
        self._consumer_tag = await self._queue.consume(self._on_message)

    @staticmethod
    async def _declare(channel: AbstractChannel, name: str) -> AbstractQueue:
        return await topology.declare_work_queue(channel, name)

    async def drain(self, grace_s: float) -> None:
        """Stop consuming; give work in flight ``grace_s``; unacked rest goes back to the queue."""
        if self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
            self._consumer_tag = None
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=grace_s)
            for task in pending:
                task.cancel()
        if self._channel is not None:
            await self._channel.close()  # unacked messages are redelivered to another replica

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        headers = message.headers or {}
        attempts = int(str(headers.get(topology.ATTEMPTS_HEADER) or 0))
        correlation = str(headers.get(topology.CORRELATION_HEADER) or message.message_id or "")
        try:
            with bind_correlation(correlation or None, queue=self._queue_name, attempt=attempts):
                await self._handle(message, attempts)
        finally:
            self._in_flight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage, attempts: int) -> None:
        try:
            await self._handler(message)
        except asyncio.CancelledError:
            raise  # not acked: the broker redelivers after the channel closes
        except Exception as exc:
            if attempts + 1 >= self._max_attempts:
                log.exception("message_dead_lettered", attempts=attempts + 1)
                await self._dead_letter(message, attempts + 1, exc)
            else:
                log.warning("message_retry", attempts=attempts + 1, exc_info=True)
                await self._republish(message, attempts + 1)
        await message.ack()

    def _copy(self, message: AbstractIncomingMessage, **headers: object) -> aio_pika.Message:
        return aio_pika.Message(
            message.body,
            headers={**(message.headers or {}), **headers},  # type: ignore[dict-item]
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
            user_id=broker_user(self._connection),
        )

    async def _republish(self, message: AbstractIncomingMessage, attempts: int) -> None:
        assert self._channel is not None
        copy = self._copy(message, **{topology.ATTEMPTS_HEADER: attempts})
        await self._channel.default_exchange.publish(copy, routing_key=self._queue_name)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, attempts: int, error: Exception
    ) -> None:
        assert self._channel is not None
        copy = self._copy(message, **{
            topology.ATTEMPTS_HEADER: attempts,
            "x-mp-queue": self._queue_name,
            "x-mp-error": f"{type(error).__name__}: {error}"[:500],
        })
        exchange = await self._channel.get_exchange(topology.DEAD_LETTER, ensure=False)
        await exchange.publish(copy, routing_key=self._queue_name)


class WorkerQueueConsumer(Consumer):
    """A :class:`Consumer` of a worker's own queue (``topology.declare_worker_queue``)."""

    @staticmethod
    async def _declare(channel: AbstractChannel, name: str) -> AbstractQueue:
        return await topology.declare_worker_queue(channel, name)
