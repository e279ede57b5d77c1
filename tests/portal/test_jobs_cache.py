"""The portal's cache of jobs lists (``GET /api/v1/jobs``) on real portal replicas, a real
backend, PostgreSQL and RabbitMQ.

The replicas keep jobs lists for 60 s here (unless a test says otherwise), so only a job event
or a job write through the replica itself can make one answer differently within a test's
deadline. Jobs queued straight in the database send no event: they show only once a list is
asked again of the backend.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from backend_svc.service import BackendService
from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.jobs import JobRef
from common.contracts.methods import JobMethods
from common.settings import S3Settings
from portal_svc.live.jobs import JobEventConsumer
from portal_svc.service import PortalService
from tests.portal.conftest import bearer, running_portal
from tests.portal.list_cache_support import PASSWORD, Client, build_world, cache_of
from tests.portal.list_cache_support import login as sign_in
from tests.support.poll import until, until_equal

JOBS_TTL_S = 60


@pytest.fixture
async def replicas(
    backend: BackendService, amqp_url: str, s3_settings: S3Settings
) -> AsyncIterator[tuple[PortalService, PortalService]]:
    """Two portals on the same backend and broker, keeping jobs lists for 60 s."""
    async for first in running_portal(amqp_url, s3_settings, jobs_cache_ttl_s=JOBS_TTL_S):
        async for second in running_portal(amqp_url, s3_settings, jobs_cache_ttl_s=JOBS_TTL_S):
            yield first, second


@pytest.fixture
async def world(
    replicas: tuple[PortalService, PortalService], pg_dsn: str
) -> AsyncIterator[dict[str, Any]]:
    """admin, alice and bob with clients on replica ``a`` and ``b``; app ``transport``."""
    async with aiohttp.ClientSession() as http:
        yield await build_world(http, replicas, pg_dsn)


@pytest.fixture
async def rpc(amqp_url: str) -> AsyncIterator[RpcClient]:
    """A link to the backend that is neither replica."""
    connection = await connect(amqp_url, deadline_s=10, name="jobs-cache-test")
    client = RpcClient(connection, timeout_s=10)
    await client.start()
    yield client
    await client.stop()
    await connection.close()


async def submit(client: Client) -> str:
    status, job = await client.call("POST", "/api/v1/jobs", json={"app": "transport"})
    assert status == 202, job
    return str(job["id"])


async def queue_behind_the_portals(pg_dsn: str, username: str) -> str:
    """A job of ``username``'s queued straight in the database: no event announces it."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        return str(await conn.fetchval(
            "INSERT INTO jobs (user_id, app_version_id, procedure) SELECT u.id, v.id, 'solve' "
            "FROM users u, app_versions v WHERE u.username = $1 RETURNING jobs.id", username))
    finally:
        await conn.close()


async def cancel_as(rpc: RpcClient, pg_dsn: str, username: str, job_id: str) -> None:
    """Cancel ``job_id`` as its owner straight through the backend, not through a portal."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
    finally:
        await conn.close()
    owner = Principal(user_id=str(user_id), username=username)
    job = await rpc.call_method(JobMethods.CANCEL, JobRef(actor=owner, job_id=job_id))
    assert job.state == "cancelled"


def told(replicas: tuple[PortalService, PortalService]) -> list[list[str | None]]:
    """The subjects of the events each replica's list cache is told of, from now on."""
    subjects: list[list[str | None]] = []
    for portal in replicas:
        cache, seen = cache_of(portal), []
        real = cache.on_event

        def spy(event: Any, real: Any = real, seen: list[str | None] = seen) -> None:
            seen.append(event.subject)
            real(event)

        cache.on_event = spy  # type: ignore[method-assign]
        subjects.append(seen)
    return subjects


async def test_a_change_made_elsewhere_moves_positions_on_both_replicas_after_its_event(
    world: dict[str, Any], replicas: tuple[PortalService, PortalService], rpc: RpcClient,
    pg_dsn: str,
) -> None:
    seen = told(replicas)
    bobs = await submit(world["bob_a"])
    alices = await submit(world["alice_a"])
    # both submissions' events reached both caches (an event arriving after the reads below
    # would drop what they keep; CI once saw that race)
    await until(lambda: all({bobs, alices} <= set(s) for s in seen), what="the job events")
    for side in ("a", "b"):
        assert await world[f"alice_{side}"].jobs() == {alices: 2}
        assert await world[f"bob_{side}"].jobs() == {bobs: 1}
    assert all(len(cache_of(p)) == 2 for p in replicas)
    # queued behind both portals' backs: no event, so neither lists it yet
    hidden = await queue_behind_the_portals(pg_dsn, "alice")
    assert await world["alice_a"].jobs() == await world["alice_b"].jobs() == {alices: 2}
    await cancel_as(rpc, pg_dsn, "bob", bobs)  # its event drops every jobs list, bob's or not
    await until_equal(world["alice_a"].jobs, {hidden: 2, alices: 1})
    await until_equal(world["alice_b"].jobs, {hidden: 2, alices: 1})
    await until_equal(world["bob_b"].jobs, {})


async def test_a_replica_deaf_to_job_events_lists_its_own_job_writes_at_once(
    world: dict[str, Any], amqp_url: str, s3_settings: S3Settings, rpc: RpcClient,
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A third replica whose job events reach its live streams but not its cache: only its
    own writes can drop its jobs lists."""
    monkeypatch.setattr("portal_svc.service.JobEventConsumer",
                        lambda connection, hub, first: JobEventConsumer(connection, hub))
    async for deaf in running_portal(amqp_url, s3_settings, jobs_cache_ttl_s=JOBS_TTL_S):
        alice = Client(world["http"], deaf, await sign_in(world["http"], deaf, "alice", PASSWORD))
        assert await alice.jobs() == {}
        first = await submit(alice)
        assert await alice.jobs() == {first: 1}  # its own submit: at once
        status, _ = await alice.call("POST", f"/api/v1/jobs/{first}/cancel")
        assert status == 200
        assert await alice.jobs() == {}  # its own cancel: at once
        assert await alice.jobs("state=cancelled") == {first: None}
        second = await submit(world["alice_a"])  # through replica a
        await until_equal(world["alice_b"].jobs, {second: 1})  # b heard the event
        assert await alice.jobs() == {}  # the deaf replica did not: its answer is kept
        await cancel_as(rpc, pg_dsn, "alice", second)
        await until_equal(world["alice_b"].jobs, {})
        assert await alice.jobs("state=cancelled") == {first: None}


async def test_a_list_is_asked_again_after_the_ttl(
    backend: BackendService, amqp_url: str, s3_settings: S3Settings, pg_dsn: str,
) -> None:
    async for portal in running_portal(amqp_url, s3_settings, jobs_cache_ttl_s=5):
        async with aiohttp.ClientSession() as http:
            world = await build_world(http, (portal, portal), pg_dsn)
            alice = world["alice_a"]
            assert await alice.jobs() == {}
            job = await queue_behind_the_portals(pg_dsn, "alice")
            assert await alice.jobs() == {}  # kept: no event said anything
            await until_equal(alice.jobs, {job: 1})  # asked again once 5 s passed


async def test_with_the_cache_off_every_list_is_the_backends_and_refusals_are_never_kept(
    backend: BackendService, amqp_url: str, s3_settings: S3Settings, pg_dsn: str,
) -> None:
    async for portal in running_portal(amqp_url, s3_settings, jobs_cache_ttl_s=0,
                                       list_cache_ttl_s=300):
        async with aiohttp.ClientSession() as http:
            world = await build_world(http, (portal, portal), pg_dsn)
            alice = world["alice_a"]
            assert await alice.jobs() == {}
            job = await queue_behind_the_portals(pg_dsn, "alice")
            assert await alice.jobs() == {job: 1}  # at once
            assert await alice.apps() == ["transport"]
            assert len(cache_of(portal)) == 1  # the apps list; no jobs list


async def test_refusals_and_single_jobs_are_never_kept(
    world: dict[str, Any], replicas: tuple[PortalService, PortalService],
) -> None:
    a, _ = replicas
    alice = world["alice_a"]
    for query in ("state=sleeping", "limit=0", "offset=-1", f"{uuid.uuid4().hex}=1"):
        status, body = await alice.call("GET", f"/api/v1/jobs?{query}")
        assert (status, body["error"]["code"]) == (400, "invalid_request"), query
    async with world["http"].get(f"http://127.0.0.1:{a.port}/api/v1/jobs",
                                 headers=bearer("not-a-token")) as resp:
        assert resp.status == 401
    job = await submit(alice)
    assert (await alice.get(f"/api/v1/jobs/{job}"))["queue_position"] == 1
    assert len(cache_of(a)) == 0
    assert await alice.jobs() == {job: 1}
    assert len(cache_of(a)) == 1
