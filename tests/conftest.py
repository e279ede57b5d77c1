"""Fixtures shared by every test: real PostgreSQL, RabbitMQ and S3, isolated per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.settings import S3Settings
from modelport.devstack.weed import WeedServer
from tests.support import infra


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    """DSN of a fresh, empty database, dropped after the test."""
    name = await infra.create_database()
    try:
        yield infra.dsn_for(name)
    finally:
        await infra.drop_database(name)


@pytest.fixture(scope="session")
def vhost_pool() -> Iterator[infra.VhostPool]:
    pool = infra.VhostPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
async def amqp_url(vhost_pool: infra.VhostPool) -> AsyncIterator[str]:
    """URL of a fresh RabbitMQ vhost that no other test has used."""
    name, url = await asyncio.to_thread(vhost_pool.take)
    try:
        yield url
    finally:
        await asyncio.to_thread(vhost_pool.give_back, name)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedServer]:
    """One SeaweedFS server for the whole test session, on free loopback ports."""
    server = WeedServer(Path(tmp_path_factory.mktemp("weed")), die_with_parent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_settings(s3_server: WeedServer) -> S3Settings:
    """Settings for a fresh bucket on the session's S3 server."""
    return S3Settings(endpoint_url=s3_server.endpoint, bucket=infra.unique("mp-t-"))
