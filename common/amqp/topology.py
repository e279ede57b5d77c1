"""Every exchange, queue and routing-key name, declared idempotently by its owner.

Handlers never spell broker names as string literals: they import them from here.
"""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

COMMANDS = "modelport.commands"  # direct: commands and RPC requests to a service
EVENTS = "modelport.events"  # topic: CloudEvents, routing key = event type
DEAD_LETTER = "modelport.dead-letter"  # fanout: messages that failed too often
DEAD_LETTER_QUEUE = "modelport.dead-letter"

BACKEND_RPC = "backend.rpc"
SESSION_RPC = "session.rpc"
SOLVE_RPC = "solve.rpc"
SESSION_COMMANDS = "session.commands"
SOLVE_COMMANDS = "solve.commands"
SOLVE_WORKER_PREFIX = "solve.worker."
SESSION_WORKER_PREFIX = "session.worker."
WORKER_QUEUE_EXPIRES_MS = 10 * 60_000

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
ATTEMPTS_HEADER = "x-mp-attempts"
CORRELATION_HEADER = "x-correlation-id"
MAX_REDELIVERIES = 10


async def declare_base(channel: AbstractChannel) -> dict[str, AbstractExchange]:
    """Declare the shared exchanges and the dead-letter queue; return the exchanges by name."""
    commands = await channel.declare_exchange(COMMANDS, aio_pika.ExchangeType.DIRECT, durable=True)
    events = await channel.declare_exchange(EVENTS, aio_pika.ExchangeType.TOPIC, durable=True)
    dead = await channel.declare_exchange(DEAD_LETTER, aio_pika.ExchangeType.FANOUT, durable=True)
    dlq = await channel.declare_queue(
        DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dead)
    return {COMMANDS: commands, EVENTS: events, DEAD_LETTER: dead}


async def declare_work_queue(channel: AbstractChannel, name: str) -> AbstractQueue:
    """A durable quorum queue bound to ``COMMANDS`` under its own name, dead-lettering."""
    return await _bound_queue(channel, name, {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD_LETTER,
        # Handler failures are counted in our header; this bounds the other case, a
        # message whose handling kills the whole process and so is redelivered forever.
        "x-delivery-limit": MAX_REDELIVERIES,
    })


async def declare_rpc_queue(channel: AbstractChannel, name: str) -> AbstractQueue:
    """An RPC request queue. Requests expire after a minute, so a caller that gave up
    long ago (its timeout is shorter) is not answered when a server comes back."""
    return await _bound_queue(channel, name, {"x-queue-type": "quorum", "x-message-ttl": 60_000})


def solve_worker_queue(instance: str) -> str:
    """The queue of one solve worker replica: RunJob and StopJob for the attempts it holds
    arrive there (routing key = queue name on ``COMMANDS``)."""
    return f"{SOLVE_WORKER_PREFIX}{instance}"


def session_worker_queue(instance: str) -> str:
    """The queue of one session worker replica: StopSession for the sessions it holds."""
    return f"{SESSION_WORKER_PREFIX}{instance}"


async def declare_worker_queue(channel: AbstractChannel, name: str) -> AbstractQueue:
    """A worker's own queue: durable (survives a broker restart), dead-lettering, and deleted
    by the broker once no consumer has used it for ``WORKER_QUEUE_EXPIRES_MS`` (a worker that
    died leaves nothing behind; its attempts come back through lease expiry)."""
    return await _bound_queue(channel, name, {
        "x-queue-type": "classic",
        "x-dead-letter-exchange": DEAD_LETTER,
        "x-expires": WORKER_QUEUE_EXPIRES_MS,
    })


async def _bound_queue(
    channel: AbstractChannel, name: str, arguments: dict[str, Any]
) -> AbstractQueue:
    """Declare the durable queue ``name`` with ``arguments`` (idempotent while they are the
    same) and bind it to ``COMMANDS`` under its own name."""
    queue = await channel.declare_queue(name, durable=True, arguments=arguments)
    await queue.bind(COMMANDS, routing_key=name)
    return queue
