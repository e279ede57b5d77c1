"""Fixtures of the service tests: a client connection to the test's vhost."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractRobustConnection

from common.amqp.connection import connect
from common.amqp.rpc import RpcClient


@pytest.fixture
async def amqp(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(amqp_url, deadline_s=10, name="test-client")
    yield connection
    await connection.close()


@pytest.fixture
async def rpc_client(amqp: AbstractRobustConnection) -> AsyncIterator[RpcClient]:
    client = RpcClient(amqp, timeout_s=30)
    await client.start()
    yield client
    await client.stop()
