"""Fixtures shared by every test: real PostgreSQL, RabbitMQ and S3, isolated per test; the
Docker engine the set-up checked; a RabbitMQ node of the test's own. What is missing fails
the tests that need it: nothing here skips."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.settings import S3Settings
from modelport.devstack.weed import WeedServer
from tests.support import engines, infra
from tests.support.rabbit_instance import RabbitInstance

pytest_plugins = (
    "tests.portal.browser",  # the browser tests' ``page`` fixture
    "tests.support.hang_dump",  # where every task waits, just before a test times out
)


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


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The URL of the Docker engine the set-up checked (tests/support/engines.py), once it
    answers a ping (retried up to 30 s, or MODELPORT_TEST_DOCKER_WAIT_S). Fails, never skips,
    the tests that need it. Sets
    DOCKER_HOST to it, so the ``docker`` commands the tests run use the same engine."""
    url = engines.docker_url()
    try:
        engines.wait_for_engine(url, engines.engine_wait_s())
    except engines.Missing as exc:
        pytest.fail(str(exc), pytrace=False)
    os.environ["DOCKER_HOST"] = url
    return url


@pytest.fixture
def own_broker() -> Iterator[RabbitInstance]:
    """A RabbitMQ node of the test's own, started; stopped and removed afterwards. Fails the
    test when none can start here (it needs rabbitmq-server and root)."""
    if (why := RabbitInstance.missing()) is not None:
        pytest.fail(f"this test stops and restarts a RabbitMQ node of its own: {why}",
                    pytrace=False)
    # Not under pytest's tmp_path: the broker runs as the rabbitmq user, who cannot enter it.
    base = Path(tempfile.mkdtemp(prefix="mp-rabbit-"))
    broker = RabbitInstance(base)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)
