"""The work-queue consumer against the real broker: ack after success, retry, dead-letter, drain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from common.amqp import topology
from common.amqp.connection import connect
from common.amqp.consumer import Consumer
from common.amqp.publisher import Publisher
from tests.support.infra import unique

Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]
Send = Callable[..., Awaitable[None]]


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(amqp_url, deadline_s=10, name="consumer-test")
    yield connection
    await connection.close()


@pytest.fixture
async def send(connection: AbstractRobustConnection) -> AsyncIterator[Send]:
    publisher = Publisher(connection, topology.COMMANDS)
    await publisher.start()

    async def send(queue: str, body: bytes, message_id: str | None = None) -> None:
        await publisher.publish(body, routing_key=queue, message_id=message_id)

    yield send
    await publisher.stop()


@pytest.fixture
async def consumers(connection: AbstractRobustConnection) -> AsyncIterator[list[Consumer]]:
    """Consumers a test starts; drained at the end if the test did not."""
    started: list[Consumer] = []
    yield started
    for consumer in started:
        await consumer.drain(0)


async def _start(
    connection: AbstractRobustConnection, consumers: list[Consumer], handler: Handler,
    *, max_attempts: int = 5, queue: str | None = None,
) -> tuple[Consumer, str]:
    name = queue or unique("test.work.")
    consumer = Consumer(connection, name, handler, prefetch=4, max_attempts=max_attempts)
    await consumer.start()
    consumers.append(consumer)
    return consumer, name


async def _ready_count(connection: AbstractRobustConnection, queue: str) -> int:
    """Messages waiting in ``queue`` (unacked ones not counted)."""
    async with connection.channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def _one_dead_letter(connection: AbstractRobustConnection) -> AbstractIncomingMessage:
    async with connection.channel() as channel:
        queue = await channel.declare_queue(topology.DEAD_LETTER_QUEUE, passive=True)
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                return message
    raise AssertionError("unreachable")


async def test_acks_after_the_handler_succeeds(connection, send, consumers) -> None:
    seen: asyncio.Queue[bytes] = asyncio.Queue()

    async def handler(message: AbstractIncomingMessage) -> None:
        await seen.put(message.body)

    consumer, queue = await _start(connection, consumers, handler)
    await send(queue, b"work")

    assert await asyncio.wait_for(seen.get(), 10) == b"work"
    await consumer.drain(5)  # closing the channel would requeue an unacked message
    assert await _ready_count(connection, queue) == 0


async def test_unfinished_work_is_not_acked(connection, send, consumers) -> None:
    started = asyncio.Event()

    async def handler(message: AbstractIncomingMessage) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes

    consumer, queue = await _start(connection, consumers, handler)
    await send(queue, b"work")
    await asyncio.wait_for(started.wait(), 10)

    await consumer.drain(0.05)  # grace runs out: the handler is cancelled

    assert await _ready_count(connection, queue) == 1


async def test_transient_failure_is_retried_then_succeeds(connection, send, consumers) -> None:
    attempts_seen: list[object] = []
    done = asyncio.Event()

    async def handler(message: AbstractIncomingMessage) -> None:
        attempts_seen.append((message.headers or {}).get(topology.ATTEMPTS_HEADER))
        if len(attempts_seen) < 3:
            raise ConnectionError("database went away")
        done.set()

    consumer, queue = await _start(connection, consumers, handler, max_attempts=5)
    await send(queue, b"work", message_id="m-1")
    await asyncio.wait_for(done.wait(), 10)
    await consumer.drain(5)

    assert attempts_seen == [None, 1, 2]
    assert await _ready_count(connection, queue) == 0
    assert await _ready_count(connection, topology.DEAD_LETTER_QUEUE) == 0


async def test_always_failing_message_is_dead_lettered(connection, send, consumers) -> None:
    calls: list[bytes] = []

    async def handler(message: AbstractIncomingMessage) -> None:
        calls.append(message.body)
        raise ValueError("poison")

    consumer, queue = await _start(connection, consumers, handler, max_attempts=3)
    await send(queue, b"poison", message_id="m-2")

    dead = await asyncio.wait_for(_one_dead_letter(connection), 10)
    await consumer.drain(5)

    assert dead.body == b"poison"
    assert dead.message_id == "m-2"
    assert calls == [b"poison"] * 3
    assert await _ready_count(connection, queue) == 0
    headers = dead.headers or {}
    assert headers[topology.ATTEMPTS_HEADER] == 3
    assert headers["x-mp-queue"] == queue
    assert "ValueError: poison" in str(headers["x-mp-error"])


async def test_dead_letter_attempts_header_counts_every_attempt(
    connection, send, consumers
) -> None:
    async def handler(message: AbstractIncomingMessage) -> None:
        raise ValueError("poison")

    consumer, queue = await _start(connection, consumers, handler, max_attempts=3)
    await send(queue, b"poison")

    dead = await asyncio.wait_for(_one_dead_letter(connection), 10)
    await consumer.drain(5)

    assert (dead.headers or {})[topology.ATTEMPTS_HEADER] == 3


async def test_drain_lets_in_flight_work_finish(connection, send, consumers) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[bytes] = []

    async def handler(message: AbstractIncomingMessage) -> None:
        started.set()
        await release.wait()
        finished.append(message.body)

    consumer, queue = await _start(connection, consumers, handler)
    await send(queue, b"slow")
    await asyncio.wait_for(started.wait(), 10)

    draining = asyncio.create_task(consumer.drain(10))
    await asyncio.wait({draining}, timeout=0.2)
    assert not draining.done(), "drain returned while work was in flight"
    release.set()
    await asyncio.wait_for(draining, 10)

    assert finished == [b"slow"]
    assert await _ready_count(connection, queue) == 0


async def test_drained_consumer_takes_no_new_work(connection, send, consumers) -> None:
    seen: list[bytes] = []

    async def handler(message: AbstractIncomingMessage) -> None:
        seen.append(message.body)

    consumer, queue = await _start(connection, consumers, handler)
    await consumer.drain(1)
    await send(queue, b"later")

    assert await _ready_count(connection, queue) == 1
    assert seen == []


async def test_work_queue_is_bound_to_the_commands_exchange(connection, consumers) -> None:
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def handler(message: AbstractIncomingMessage) -> None:
        await got.put(message.body)

    _, queue = await _start(connection, consumers, handler)
    async with connection.channel() as channel:
        exchange = await channel.get_exchange(topology.COMMANDS)
        await exchange.publish(aio_pika.Message(b"via exchange"), routing_key=queue)
    assert await asyncio.wait_for(got.get(), 10) == b"via exchange"
