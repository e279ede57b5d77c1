"""A test vhost with one broker user per role (and an integrator), made by the real module."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from backend_svc.service import BackendService
from common.amqp import broker_users
from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from common.contracts.method import BACKEND, PORTAL, SOLVE_WORKER
from common.settings import S3Settings
from portal_svc.service import PortalService
from tests.access.rights_world import World, prepare
from tests.backend.conftest import backend_settings
from tests.portal.conftest import backend, db, http, portal_url, running_portal  # noqa: F401
from tests.support import infra
from tests.support.stack import running_stack


@dataclasses.dataclass(frozen=True)
class Identities:
    vhost: str
    users: dict[str, broker_users.BrokerUser]  # by role, plus "integrator" and "solve_b"
    roles: dict[str, str]

    def url(self, who: str, *, password: str | None = None) -> str:
        user = self.users[who]
        secret = user.password if password is None else password
        return f"amqp://{quote(user.name)}:{quote(secret)}@127.0.0.1:5672/{quote(self.vhost, '')}"


@pytest.fixture(scope="module")
def identities(vhost_pool: infra.VhostPool) -> Iterator[Identities]:
    vhost, _ = vhost_pool.take()
    prefix = f"mp-t{uuid.uuid4().hex[:6]}-"
    users = broker_users.plan(prefix, ["acme"])
    second = broker_users.BrokerUser(f"{prefix}solve-worker-b", "pw-" + uuid.uuid4().hex,
                                     broker_users.role_permissions(SOLVE_WORKER), SOLVE_WORKER)
    users.append(second)
    broker_users.apply(users, vhost, rabbitmqctl=infra.RABBITMQCTL)
    by_role = {u.role or "integrator": u for u in users[:-1]} | {"solve_b": second}
    try:
        yield Identities(vhost, by_role, broker_users.roles_map(users))
    finally:
        broker_users.delete([u.name for u in users], rabbitmqctl=infra.RABBITMQCTL)
        vhost_pool.give_back(vhost)


@pytest.fixture
async def guarded_backend(pg_dsn: str, identities: Identities) -> AsyncIterator[BackendService]:
    settings = backend_settings(pg_dsn, identities.url(BACKEND), broker_roles=identities.roles,
                                scheduler_interval_s=0.2)
    service = BackendService(settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def client_as(url: str) -> AsyncIterator[RpcClient]:
    connection = await connect(url, deadline_s=10, name="test-client")
    client = RpcClient(connection, timeout_s=10)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
        await connection.close()


@pytest.fixture
async def portal_rpc(identities: Identities, guarded_backend: BackendService
                     ) -> AsyncIterator[RpcClient]:
    async for client in client_as(identities.url(PORTAL)):
        yield client


@pytest.fixture
async def system_rpc(identities: Identities, guarded_backend: BackendService
                     ) -> AsyncIterator[RpcClient]:
    """Backend's own broker user, for SYSTEM set-up (what backend itself may do)."""
    async for client in client_as(identities.url(BACKEND)):
        yield client


@pytest.fixture
async def portal(backend: BackendService, amqp_url: str,  # noqa: F811
                 s3_settings: S3Settings) -> AsyncIterator[PortalService]:
    """The portal tests' portal, with RPC time for argon2 on a loaded machine (a sign-in
    while other suites run took over 5 s here)."""
    async for service in running_portal(amqp_url, s3_settings, rpc_timeout_s=30):
        yield service


@pytest.fixture
async def rights_world(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
                       ) -> AsyncIterator[World]:
    """A portal and backend with one caller of each kind and their resources
    (tests/access/rights_world.py). Requested sessions wait for a worker for an hour."""
    overrides = {"session_claim_timeout_s": 3600, "max_sessions_per_user": 100}
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path,
                             backend=overrides) as stack:
        yield await prepare(stack)
