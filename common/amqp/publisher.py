"""A publisher with confirms: ``publish`` returns once the broker has taken the message."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from common.amqp import topology
from common.amqp.identity import broker_user
from common.contracts.events import CloudEvent


class Publisher:
    """Publishes persistent messages to one exchange and waits for the broker's confirm."""

    def __init__(self, connection: AbstractRobustConnection, exchange: str):
        self._connection = connection
        self._exchange_name = exchange
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        exchanges = await topology.declare_base(self._channel)
        self._exchange = exchanges[self._exchange_name]

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    async def publish(
        self, body: bytes, routing_key: str, *, message_id: str | None = None,
        headers: dict[str, object] | None = None, timeout_s: float = 10.0,
        message_type: str | None = None,
    ) -> None:
        """Publish and wait for the confirm; raises if the broker nacks or the link is down.

        ``message_type`` sets the AMQP ``type`` property consumers dispatch on."""
        assert self._exchange is not None, "Publisher.start() first"
        await self._exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                type=message_type,
                user_id=broker_user(self._connection),
                headers=headers or {},  # type: ignore[arg-type]
            ),
            routing_key=routing_key,
            mandatory=False,
            timeout=timeout_s,
        )

    async def publish_event(self, event: CloudEvent) -> None:
        """Publish a CloudEvent in structured mode, routed by its type."""
        await self.publish(
            event.model_dump_json().encode(),
            routing_key=event.type,
            message_id=event.id,
            headers={"content-type": "application/cloudevents+json"},
        )
