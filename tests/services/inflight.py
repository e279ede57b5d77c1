"""Putting an RPC call surely in a server's hands, for shutdown tests.

A slow ping is published with a broker confirm (so it is queued), then a quick ping goes after
it. The queue is FIFO and the server's prefetch is above one, so once the quick ping has been
answered the slow one has been delivered and is being handled: no polling, no guessed sleep.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.system import PING_ON, Ping, Pong
from tests.services.procs import ServiceProcess


@asynccontextmanager
async def slow_ping_in_flight(
    connection: AbstractRobustConnection, client: RpcClient, rpc_queue: str, *, delay_s: float
) -> AsyncIterator[asyncio.Future[Pong]]:
    """Yield a future of the slow ping's Pong; on entry the server is already handling it."""
    channel = await connection.channel(publisher_confirms=True)
    reply: asyncio.Future[Pong] = asyncio.get_running_loop().create_future()

    async def on_reply(message: AbstractIncomingMessage) -> None:
        body = json.loads(message.body)
        if not reply.done():
            reply.set_result(Pong.model_validate(body["result"]))

    try:
        queue = await channel.declare_queue(topology.DIRECT_REPLY_TO, passive=True)
        await queue.consume(on_reply, no_ack=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                Ping(delay_s=delay_s).model_dump_json().encode(), type=PING_ON[rpc_queue].name,
                content_type="application/json", correlation_id=uuid.uuid4().hex,
                reply_to=topology.DIRECT_REPLY_TO,
            ),
            routing_key=rpc_queue,
        )
        await client.call_method(PING_ON[rpc_queue], Ping(), timeout_s=15)
        assert not reply.done(), "the slow ping finished before the quick one"
        yield reply
    finally:
        await channel.close()


async def sigterm_during_ping(
    service: ServiceProcess, amqp: AbstractRobustConnection, client: RpcClient, rpc_queue: str
) -> None:
    """Hold a ping in flight, SIGTERM the service, expect the pong and exit status 0."""
    async with slow_ping_in_flight(amqp, client, rpc_queue, delay_s=2) as reply:
        service.signal(signal.SIGTERM)
        pong = await asyncio.wait_for(reply, 30)
    assert pong.service == service.module.removesuffix("_svc")  # backend_svc -> backend
    assert await service.wait() == 0, service.log_tail()
