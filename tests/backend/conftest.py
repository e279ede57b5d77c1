"""A real backend_svc in-process, on a fresh database and vhost."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend_svc.service import BackendService
from backend_svc.settings import BackendSettings
from common.amqp.connection import connect
from common.amqp.rpc import RpcClient

ADMIN_PASSWORD = "admin-password-1"


def backend_settings(pg_dsn: str, amqp_url: str, **extra: object) -> BackendSettings:
    return BackendSettings(
        database_url=pg_dsn, amqp_url=amqp_url, status_port=0, admin_user="admin",
        admin_password=ADMIN_PASSWORD, outbox_poll_s=0.2, connect_deadline_s=10,
        shutdown_grace_s=5, **extra,
    )


@pytest.fixture
async def backend(pg_dsn: str, amqp_url: str) -> AsyncIterator[BackendService]:
    service = BackendService(backend_settings(pg_dsn, amqp_url))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def rpc(amqp_url: str) -> AsyncIterator[RpcClient]:
    connection = await connect(amqp_url, deadline_s=10, name="test-client")
    client = RpcClient(connection, timeout_s=10)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
        await connection.close()
