"""The portal's list cache on two real portal replicas, a real backend, PostgreSQL and RabbitMQ.

Both replicas keep answers for 300 s here, so only an event (or a write through the replica
itself) can make one of them answer differently within a test's deadline: what a replica
shows after a change made through the other is the event's doing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest

from backend_svc.service import BackendService
from common.settings import S3Settings
from portal_svc.list_cache import LIST_CACHE, ListCache
from portal_svc.live.consumer import EventConsumer
from portal_svc.service import PortalService
from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer, running_portal
from tests.support.deep_queue import SHA

EVENT_DEADLINE_S = 10.0
PASSWORD = "password-123"


@pytest.fixture
async def replicas(
    backend: BackendService, amqp_url: str, s3_settings: S3Settings
) -> AsyncIterator[tuple[PortalService, PortalService]]:
    """Two portals on the same backend and broker, keeping lists for 300 s."""
    async for first in running_portal(amqp_url, s3_settings, list_cache_ttl_s=300):
        async for second in running_portal(amqp_url, s3_settings, list_cache_ttl_s=300):
            yield first, second


class Client:
    """Requests to one replica with a user's token."""

    def __init__(self, http: aiohttp.ClientSession, portal: PortalService, token: str):
        self._http, self._base, self._token = http, f"http://127.0.0.1:{portal.port}", token

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self._http.request(method, self._base + path, headers=bearer(self._token),
                                      **kwargs) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str) -> Any:
        status, body = await self.call("GET", path)
        assert status == 200, body
        return body

    async def apps(self) -> list[str]:
        return [a["name"] for a in (await self.get("/api/v1/apps"))["apps"]]

    async def cases(self) -> dict[str, str]:
        return {c["id"]: c["name"] for c in (await self.get("/api/v1/cases"))["cases"]}


async def eventually(read: Callable[[], Awaitable[Any]], wanted: Any) -> None:
    """Poll ``read`` until it answers ``wanted`` (within :data:`EVENT_DEADLINE_S`)."""
    deadline = time.monotonic() + EVENT_DEADLINE_S
    while (got := await read()) != wanted:
        assert time.monotonic() < deadline, f"still {got!r}, not {wanted!r}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def world(
    replicas: tuple[PortalService, PortalService], pg_dsn: str
) -> AsyncIterator[dict[str, Any]]:
    """admin, alice (in group team) and bob; app ``transport`` open to all; a case of
    alice's. Clients for each user on replica ``a`` and ``b``."""
    a, b = replicas
    async with aiohttp.ClientSession() as http:
        admin_token = await _login(http, a, ADMIN_USER, ADMIN_PASSWORD)
        admin = Client(http, a, admin_token)
        tokens = {"admin": admin_token}
        for name in ("alice", "bob"):
            status, body = await admin.call("POST", "/api/v1/users",
                                            json={"username": name, "password": PASSWORD})
            assert status == 201, body
            tokens[name] = await _login(http, a, name, PASSWORD)
        assert (await admin.call("POST", "/api/v1/groups", json={"name": "team"}))[0] == 201
        status, _ = await admin.call("POST", "/api/v1/groups/team/members",
                                     json={"username": "alice"})
        assert status == 200
        case_id = await _seed(pg_dsn)
        yield {"case": case_id, "http": http, **{
            f"{who}_{side}": Client(http, portal, token) for who, token in tokens.items()
            for side, portal in (("a", a), ("b", b))}}


async def _login(http: aiohttp.ClientSession, portal: PortalService, user: str,
                 password: str) -> str:
    async with http.post(f"http://127.0.0.1:{portal.port}/api/v1/auth/login",
                         json={"username": user, "password": password}) as resp:
        assert resp.status == 200
        return str((await resp.json())["token"])


async def _seed(pg_dsn: str) -> str:
    """App ``transport`` (one active version, no use-groups) and a case of alice's, written
    in the database the backend owns (no package keys are needed for that)."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        app_id = await conn.fetchval(
            "INSERT INTO apps (name, title) VALUES ('transport', 'Transport') RETURNING id")
        version_id = await conn.fetchval(
            "INSERT INTO app_versions (app_id, version, runtime_requirement, manifest, s3_key, "
            "sha256, size_bytes) VALUES ($1, '1.0.0', '>=1.0', '{}', 'a', $2, 1) RETURNING id",
            app_id, SHA)
        await conn.execute("UPDATE apps SET active_version_id = $1 WHERE id = $2",
                           version_id, app_id)
        case_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO cases (id, owner_id, app_id, name, s3_key, sha256, size_bytes) "
            "SELECT $1, id, $2, 'first', 'cases/x', $3, 10 FROM users WHERE username = 'alice'",
            case_id, app_id, SHA)
        return str(case_id)
    finally:
        await conn.close()


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
    await eventually(world["bob_b"].apps, [])  # the other: once the event arrived
    assert await world["alice_b"].apps() == ["transport"]  # team's member keeps it
    # a membership change through b: bob sees the app there at once, on a after the event
    status, _ = await world["admin_b"].call("POST", "/api/v1/groups/team/members",
                                            json={"username": "bob"})
    assert status == 200
    assert await world["bob_b"].apps() == ["transport"]
    await eventually(world["bob_a"].apps, ["transport"])


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
    await eventually(world["alice_a"].cases, {case: "second"})
    # shared with team through b: bob, once in team, sees it on a after the event
    status, _ = await world["admin_a"].call("POST", "/api/v1/groups/team/members",
                                            json={"username": "bob"})
    assert status == 200
    assert await world["bob_a"].cases() == {}
    status, _ = await world["alice_b"].call("POST", f"/api/v1/cases/{case}/share",
                                            json={"group": "team"})
    assert status == 200
    await eventually(world["bob_a"].cases, {case: "second"})
    status, _ = await world["alice_b"].call("POST", f"/api/v1/cases/{case}/share",
                                            json={"group": None})
    assert status == 200
    await eventually(world["bob_a"].cases, {})


async def test_without_events_a_replica_still_reads_its_own_writes_at_once(
    world: dict[str, Any], amqp_url: str, s3_settings: S3Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A third replica that hears no list events: only its own writes can drop its lists."""
    monkeypatch.setattr("portal_svc.service.list_cache_consumer",
                        lambda connection, cache: EventConsumer(connection, (), cache.on_event))
    async for deaf in running_portal(amqp_url, s3_settings, list_cache_ttl_s=300):
        http = world["http"]
        admin = Client(http, deaf, await _login(http, deaf, ADMIN_USER, ADMIN_PASSWORD))
        bob = Client(http, deaf, await _login(http, deaf, "bob", PASSWORD))
        assert await bob.apps() == ["transport"]
        status, _ = await admin.call("PUT", "/api/v1/apps/transport/rights",
                                     json={"use": ["team"], "publish": []})
        assert status == 200
        assert await bob.apps() == []  # its own write: at once
        status, _ = await world["admin_a"].call("PUT", "/api/v1/apps/transport/rights",
                                                json={"use": [], "publish": []})
        assert status == 200
        await eventually(world["bob_b"].apps, ["transport"])  # b heard the event
        assert await bob.apps() == []  # the deaf replica did not: its answer is kept


async def test_bad_queries_are_refused_and_nothing_is_kept(
    world: dict[str, Any], replicas: tuple[PortalService, PortalService],
) -> None:
    a, _ = replicas
    cache = _cache(a)
    for query in ("limit=0", "limit=x", "offset=-1", "app=" + "x" * 101):
        status, body = await world["alice_a"].call("GET", f"/api/v1/cases?{query}")
        assert (status, body["error"]["code"]) == (400, "invalid_request"), query
    async with world["http"].get(f"http://127.0.0.1:{a.port}/api/v1/apps",
                                 headers=bearer("not-a-token")) as resp:
        assert resp.status == 401
    assert len(cache) == 0
    assert await world["alice_a"].cases() == {world["case"]: "first"}
    assert len(cache) == 1


def _cache(portal: PortalService) -> ListCache:
    assert portal.app is not None
    return portal.app[LIST_CACHE]


def _kept(portal: PortalService) -> int:
    return len(_cache(portal))
