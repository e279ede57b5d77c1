"""What the list cache's tests share: a user's client of one replica, polling for an answer
an event brings, signing in, and the app and case they list."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import asyncpg

from portal_svc.list_cache import LIST_CACHE, ListCache
from portal_svc.service import PortalService
from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer
from tests.support.deep_queue import SHA

PASSWORD = "password-123"


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

    async def jobs(self, query: str = "state=queued") -> dict[str, int | None]:
        """The queue position of each listed job, by id."""
        page = await self.get(f"/api/v1/jobs?{query}")
        return {j["id"]: j["queue_position"] for j in page["jobs"]}


async def login(http: aiohttp.ClientSession, portal: PortalService, user: str,
                 password: str) -> str:
    async with http.post(f"http://127.0.0.1:{portal.port}/api/v1/auth/login",
                         json={"username": user, "password": password}) as resp:
        assert resp.status == 200
        return str((await resp.json())["token"])


async def seed(pg_dsn: str) -> str:
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


async def build_world(http: aiohttp.ClientSession, replicas: tuple[PortalService, PortalService],
                      pg_dsn: str) -> dict[str, Any]:
    """admin, alice (in group team) and bob; app ``transport`` open to all; a case of
    alice's (its id: ``case``). Clients for each user on replica ``a`` and ``b``
    (``alice_a``...), and ``http``."""
    a, b = replicas
    admin_token = await login(http, a, ADMIN_USER, ADMIN_PASSWORD)
    admin = Client(http, a, admin_token)
    tokens = {"admin": admin_token}
    for name in ("alice", "bob"):
        status, body = await admin.call("POST", "/api/v1/users",
                                        json={"username": name, "password": PASSWORD})
        assert status == 201, body
        tokens[name] = await login(http, a, name, PASSWORD)
    assert (await admin.call("POST", "/api/v1/groups", json={"name": "team"}))[0] == 201
    status, _ = await admin.call("POST", "/api/v1/groups/team/members",
                                 json={"username": "alice"})
    assert status == 200
    case_id = await seed(pg_dsn)
    return {"case": case_id, "http": http, **{
        f"{who}_{side}": Client(http, portal, token) for who, token in tokens.items()
        for side, portal in (("a", a), ("b", b))}}


def cache_of(portal: PortalService) -> ListCache:
    assert portal.app is not None
    return portal.app[LIST_CACHE]
