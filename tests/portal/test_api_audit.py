"""``GET /api/v1/audit`` (admins): newest first, keyset pages, filters, the client's address;
refusals for others and for bad queries."""

from __future__ import annotations

import aiohttp

from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer, login

AUDIT = "/api/v1/audit"


async def _page(http: aiohttp.ClientSession, token: str, **params: str) -> dict:
    async with http.get(AUDIT, params=params, headers=bearer(token)) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


async def test_audit_pages_filters_and_says_from_where(http: aiohttp.ClientSession) -> None:
    admin = await login(http, ADMIN_USER, ADMIN_PASSWORD)
    for name in ("g1", "g2", "g3"):
        async with http.post("/api/v1/groups", json={"name": name},
                             headers=bearer(admin)) as resp:
            assert resp.status == 201
    async with http.post("/api/v1/auth/login",
                         json={"username": "mallory", "password": "guess"}) as resp:
        assert resp.status == 401

    first = await _page(http, admin, action="group.create", limit="2")
    assert [e["detail"]["group"] for e in first["entries"]] == ["g3", "g2"]
    second = await _page(http, admin, action="group.create", limit="2",
                         before=str(first["next_before"]))
    assert [e["detail"]["group"] for e in second["entries"]] == ["g1"]
    assert second["next_before"] is None
    entry = first["entries"][0]
    assert (entry["actor_name"], entry["client_ip"]) == ("admin", "127.0.0.1")
    assert set(entry) == {"id", "at", "actor_id", "actor_name", "action", "target",
                          "client_ip", "detail"}

    refused = await _page(http, admin, actor_name="mallory")
    assert [(e["action"], e["target"], e["client_ip"], e["detail"]["reason"])
            for e in refused["entries"]] == [
        ("signin.refused", "mallory", "127.0.0.1", "wrong_password")]
    assert (await _page(http, admin, since="2999-01-01T00:00:00Z"))["entries"] == []
    everything = await _page(http, admin, until="2999-01-01T00:00:00Z", limit="200")
    assert len(everything["entries"]) >= 6  # bootstrap admin, logins, 3 groups, refusal


async def test_audit_is_for_admins_and_checks_its_query(http: aiohttp.ClientSession) -> None:
    admin = await login(http, ADMIN_USER, ADMIN_PASSWORD)
    async with http.post("/api/v1/users", headers=bearer(admin),
                         json={"username": "alice", "password": "alice-password"}) as resp:
        assert resp.status == 201
    alice = await login(http, "alice", "alice-password")
    async with http.get(AUDIT, headers=bearer(alice)) as resp:
        assert (resp.status, (await resp.json())["error"]["code"]) == (403, "forbidden")
    async with http.get(AUDIT) as resp:
        assert resp.status == 401
    for bad in ({"limit": "0"}, {"limit": "201"}, {"before": "0"}, {"since": "yesterday"},
                {"actor_name": "x" * 201}):
        async with http.get(AUDIT, params=bad, headers=bearer(admin)) as resp:
            assert resp.status == 400, bad
            body = await resp.json()
        assert body["error"]["code"] == "invalid_request"
        assert next(iter(bad)) in body["error"]["message"], body
