"""Opening a robust AMQP connection with retry and back-off at start-up."""

from __future__ import annotations

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection

from common.backoff import retry


async def connect(url: str, *, deadline_s: float, name: str) -> AbstractRobustConnection:
    """Connect to RabbitMQ, retrying until ``deadline_s``; the connection reconnects itself."""

    async def attempt() -> AbstractRobustConnection:
        return await aio_pika.connect_robust(url, client_properties={"connection_name": name})

    return await retry(
        attempt,
        what="amqp_connect",
        deadline_s=deadline_s,
        retry_on=(OSError, ConnectionError, aiormq.exceptions.AMQPConnectionError),
    )
