"""The publisher with confirms: a CloudEvent reaches a bound queue once, routed by its type."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from common.amqp import topology
from common.amqp.connection import connect
from common.amqp.publisher import Publisher
from common.contracts.events import CloudEvent
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(amqp_url, deadline_s=10, name="publisher-test")
    yield connection
    await connection.close()


@pytest.fixture
async def publisher(connection: AbstractRobustConnection) -> AsyncIterator[Publisher]:
    publisher = Publisher(connection, topology.EVENTS)
    await publisher.start()
    yield publisher
    await publisher.stop()


@pytest.fixture
async def user_events(
    connection: AbstractRobustConnection, publisher: Publisher
) -> AsyncIterator[AbstractQueue]:
    """A test queue bound to the events exchange for user events only."""
    async with connection.channel() as channel:
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(topology.EVENTS, routing_key="modelport.user.*")
        yield queue


async def test_event_reaches_a_bound_queue_once(publisher: Publisher, user_events) -> None:
    event = CloudEvent(type="modelport.user.created", subject="u-1", data={"username": "ada"})

    await publisher.publish_event(event)

    message = await user_events.get(timeout=5)
    await message.ack()
    assert message.message_id == event.id
    assert message.routing_key == "modelport.user.created"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    received = CloudEvent.model_validate(json.loads(message.body))
    assert received == event
    assert received.specversion == "1.0"
    assert await user_events.get(fail=False) is None  # exactly once


async def test_a_batch_arrives_in_order_once_each_as_single_publishes_do(
    publisher: Publisher, user_events
) -> None:
    events = [CloudEvent(type="modelport.user.created", subject=str(n), data={"n": n})
              for n in range(250)]

    assert await publisher.publish_events(events) == [None] * len(events)

    received = []
    for _ in events:
        message = await user_events.get(timeout=5)
        await message.ack()
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.headers == {"content-type": "application/cloudevents+json"}
        assert message.message_id == json.loads(message.body)["id"]
        received.append(CloudEvent.model_validate_json(message.body))
    assert received == events
    assert await user_events.get(fail=False) is None


async def test_events_are_routed_by_type(publisher: Publisher, user_events) -> None:
    await publisher.publish_event(CloudEvent(type="modelport.job.finished"))
    await publisher.publish_event(CloudEvent(type="modelport.user.deleted"))

    message = await user_events.get(timeout=5)
    await message.ack()
    assert json.loads(message.body)["type"] == "modelport.user.deleted"
    assert await user_events.get(fail=False) is None


async def test_publish_with_nobody_bound_is_confirmed(publisher: Publisher) -> None:
    await publisher.publish_event(CloudEvent(type="modelport.nobody.listens"))


async def test_publish_fails_loudly_while_cut_off_and_works_after(amqp_url: str) -> None:
    host_port = amqp_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    async with TcpProxy(host, int(port)) as proxy:
        url = amqp_url.replace(host_port, f"127.0.0.1:{proxy.port}") + "?reconnect_interval=0.1"
        connection = await connect(url, deadline_s=10, name="publisher-cut-test")
        reconnected = asyncio.Event()
        connection.reconnect_callbacks.add(lambda *_: reconnected.set())
        publisher = Publisher(connection, topology.EVENTS)
        try:
            await publisher.start()
            await proxy.cut()
            with pytest.raises(Exception):  # noqa: B017 - whichever error, never a silent loss
                await publisher.publish_event(CloudEvent(type="modelport.user.created"))
            failed = await publisher.publish_events(
                [CloudEvent(type="modelport.user.created") for _ in range(3)], timeout_s=2)
            assert all(isinstance(result, BaseException) for result in failed), failed

            await proxy.restore()
            await asyncio.wait_for(reconnected.wait(), 20)
            await publisher.publish_event(CloudEvent(type="modelport.user.created"))
        finally:
            await connection.close()
