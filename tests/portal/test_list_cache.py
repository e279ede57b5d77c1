"""The portal's list cache on two real portal replicas, a real backend, PostgreSQL and RabbitMQ.

Both replicas keep answers for 300 s here, so only an event (or a write through the replica
itself) can make one of them answer differently within a test's deadline: what a replica
shows after a change made through the other is the event's doing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from backend_svc.service import BackendService
from common.settings import S3Settings
from portal_svc.live.consumer import EventConsumer
from portal_svc.service import PortalService
from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer, running_portal
from tests.portal.list_cache_support import (
    PASSWORD,
    Client,
    build_world,
    cache_of,
    login,
)
from tests.support.poll import until_equal


@pytest.fixture
async def replicas(
    backend: BackendService, amqp_url: str, s3_settings: S3Settings
) -> AsyncIterator[tuple[PortalService, PortalService]]:
    """Two portals on the same backend and broker, keeping lists for 300 s."""
    async for first in running_portal(amqp_url, s3_settings, list_cache_ttl_s=300):
        async for second in running_portal(amqp_url, s3_settings, list_cache_ttl_s=300):
            yield first, second


@pytest.fixture
async def world(
    replicas: tuple[PortalService, PortalService], pg_dsn: str
) -> AsyncIterator[dict[str, Any]]:
    """admin, alice (in group team) and bob; app ``transport`` open to all; a case of
    alice's. Clients for each user on replica ``a`` and ``b``."""
    async with aiohttp.ClientSession() as http:
        yield await build_world(http, replicas, pg_dsn)


async def test_a_rights_change_hides_the_app_at_once_here_and_after_its_event_there(
    world: dict[str, Any], replicas: tuple[PortalService, PortalService],
) -> None:
    a, b = replicas
    for who in ("alice", "bob"):
        for side in ("a", "b"):
            assert await world[f"{who}_{side}"].apps() == ["transport"]
    assert _kept(a) == _kept(b) == 2
    status, _ = await world["admin_a"].call("PUT", "/api/v1/apps/transport/rights",
                                            json={"use": ["team"], "publish": []})
    assert status == 200
    assert await world["bob_a"].apps() == []  # the writer's replica: at once
    await until_equal(world["bob_b"].apps, [])  # the other: once the event arrived
    assert await world["alice_b"].apps() == ["transport"]  # team's member keeps it
    # a membership change through b: bob sees the app there at once, on a after the event
    status, _ = await world["admin_b"].call("POST", "/api/v1/groups/team/members",
                                            json={"username": "bob"})
    assert status == 200
    assert await world["bob_b"].apps() == ["transport"]
    await until_equal(world["bob_a"].apps, ["transport"])


async def test_case_changes_reach_the_other_replica_and_the_group_the_case_is_shared_with(
    world: dict[str, Any], pg_dsn: str,
) -> None:
    case = world["case"]
    assert await world["alice_a"].cases() == {case: "first"}
    assert await world["alice_b"].cases() == {case: "first"}
    assert await world["bob_a"].cases() == {}
    # behind the portals' backs: both keep answering from their cache
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("UPDATE cases SET name = 'renamed in the database' WHERE id = $1",
                           uuid.UUID(case))
    finally:
        await conn.close()
    assert await world["alice_a"].cases() == {case: "first"}
    status, _ = await world["alice_b"].call("PATCH", f"/api/v1/cases/{case}",
                                            json={"name": "second"})
    assert status == 200
    assert await world["alice_b"].cases() == {case: "second"}
    await until_equal(world["alice_a"].cases, {case: "second"})
    # shared with team through b: bob, once in team, sees it on a after the event
    status, _ = await world["admin_a"].call("POST", "/api/v1/groups/team/members",
                                            json={"username": "bob"})
    assert status == 200
    assert await world["bob_a"].cases() == {}
    status, _ = await world["alice_b"].call("POST", f"/api/v1/cases/{case}/share",
                                            json={"group": "team"})
    assert status == 200
    await until_equal(world["bob_a"].cases, {case: "second"})
    status, _ = await world["alice_b"].call("POST", f"/api/v1/cases/{case}/share",
                                            json={"group": None})
    assert status == 200
    await until_equal(world["bob_a"].cases, {})


async def test_without_events_a_replica_still_reads_its_own_writes_at_once(
    world: dict[str, Any], amqp_url: str, s3_settings: S3Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A third replica that hears no list events: only its own writes can drop its lists."""
    monkeypatch.setattr("portal_svc.service.list_cache_consumer",
                        lambda connection, cache: EventConsumer(connection, (), cache.on_event))
    async for deaf in running_portal(amqp_url, s3_settings, list_cache_ttl_s=300):
        http = world["http"]
        admin = Client(http, deaf, await login(http, deaf, ADMIN_USER, ADMIN_PASSWORD))
        bob = Client(http, deaf, await login(http, deaf, "bob", PASSWORD))
        assert await bob.apps() == ["transport"]
        status, _ = await admin.call("PUT", "/api/v1/apps/transport/rights",
                                     json={"use": ["team"], "publish": []})
        assert status == 200
        assert await bob.apps() == []  # its own write: at once
        status, _ = await world["admin_a"].call("PUT", "/api/v1/apps/transport/rights",
                                                json={"use": [], "publish": []})
        assert status == 200
        await until_equal(world["bob_b"].apps, ["transport"])  # b heard the event
        assert await bob.apps() == []  # the deaf replica did not: its answer is kept


async def test_bad_queries_are_refused_and_nothing_is_kept(
    world: dict[str, Any], replicas: tuple[PortalService, PortalService],
) -> None:
    a, _ = replicas
    cache = cache_of(a)
    for query in ("limit=0", "limit=x", "offset=-1", "app=" + "x" * 101):
        status, body = await world["alice_a"].call("GET", f"/api/v1/cases?{query}")
        assert (status, body["error"]["code"]) == (400, "invalid_request"), query
    async with world["http"].get(f"http://127.0.0.1:{a.port}/api/v1/apps",
                                 headers=bearer("not-a-token")) as resp:
        assert resp.status == 401
    assert len(cache) == 0
    assert await world["alice_a"].cases() == {world["case"]: "first"}
    assert len(cache) == 1


def _kept(portal: PortalService) -> int:
    return len(cache_of(portal))
