"""Sessions end to end with a real session worker, real containers and the portal's proxy:
launch, the proxy (HTTP and WebSocket, owner and admins only), the control channel's acts as
the owner, stop with autosave, a killed container becoming lost, bad input. The agent here is
:mod:`tests.sessions.fake_agent` on the real protocol (the real agent's pages are tested in
``test_browser_sessions.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.sessions.platform import SessionPlatform

pytestmark = pytest.mark.timeout(240)


async def user(sessions: SessionPlatform, name: str, *, admin: bool = False) -> str:
    await sessions.stack.create_user(name, "password-123", is_admin=admin)
    return str(await sessions.stack.login(name, "password-123"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def through(sessions: SessionPlatform, method: str, session_id: str, rest: str,
                  token: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
    url = sessions.stack.url(f"/s/{session_id}/{rest}")
    async with aiohttp.ClientSession() as http, http.request(
            method, url, headers=bearer(token), allow_redirects=False, **kwargs) as resp:
        body = await resp.read()
        parsed = await resp.json() if "json" in resp.headers.get("Content-Type", "") else body
        return resp.status, parsed, dict(resp.headers)


async def test_open_use_save_and_stop_with_autosave(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    session = await sessions.ready(token=alice)
    assert session["user"] == "alice" and session["url"] == f"/s/{session['id']}/"
    assert "endpoint" not in session and "worker" not in session
    status, page, headers = await through(sessions, "GET", session["id"], "", alice)
    assert status == 200 and b"probe session" in page
    assert headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
    assert "allow-same-origin" not in headers["Content-Security-Policy"]
    status, saved, _ = await through(sessions, "POST", session["id"], "save?name=plan%20A",
                                     alice, data=b"case bytes")
    assert status == 200 and saved["name"] == "plan A", saved
    status, cases = await sessions.call("GET", "/api/v1/cases", alice)
    mine = {c["id"]: c for c in cases["cases"]}
    assert mine[saved["case_id"]]["owner"] == "alice" and mine[saved["case_id"]]["app"] == "probe"
    status, stopping = await sessions.call("DELETE", f"/api/v1/sessions/{session['id']}", alice)
    assert status == 200 and stopping["state"] in ("stopping", "stopped")
    stopped = await sessions.settled(session["id"], alice, leave=("ready", "stopping"))
    assert stopped["state"] == "stopped" and stopped["reason"] == "user"
    assert stopped["autosave_case_id"], stopped
    assert sessions.platform.containers() == []
    gone, _, _ = await through(sessions, "GET", session["id"], "", alice)
    assert gone == 409


async def test_websocket_passes_both_ways(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    session = await sessions.ready(token=alice)
    url = sessions.stack.url(f"/s/{session['id']}/ws")
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=bearer(alice)) as ws:
        assert (await ws.receive_str(timeout=5)) == "hello"
        for text in ("one", "two" * 1000):
            await ws.send_str(text)
            assert (await ws.receive_str(timeout=5)) == f"echo:{text}"


async def test_strangers_get_404_everywhere_admins_get_in(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    bob = await user(sessions, "bob")
    root = await user(sessions, "root", admin=True)
    session = await sessions.ready(token=alice)
    sid = session["id"]
    for method, path in (("GET", f"/api/v1/sessions/{sid}"), ("DELETE", f"/api/v1/sessions/{sid}")):
        status, body = await sessions.call(method, path, bob)
        assert status == 404 and body["error"]["code"] == "not_found", body
    for rest in ("", "case", "ws"):
        status, _, _ = await through(sessions, "GET", sid, rest, bob)
        assert status == 404
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(sessions.stack.url(f"/s/{sid}/ws"), headers=bearer(bob))
    assert refused.value.status == 404
    status, listed = await sessions.call("GET", "/api/v1/sessions", bob)
    assert listed["total"] == 0
    status, _, _ = await through(sessions, "GET", sid, "", root)
    assert status == 200
    assert (await sessions.settled(sid, alice, leave=()))["state"] == "ready"


async def test_bad_input_is_refused_and_changes_nothing(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    case = await sessions.platform.upload_case("transport")  # the admin's, of another app
    before = await sessions.call("GET", "/api/v1/sessions", alice)
    refusals = [
        ({"app": "nope"}, 404, "unknown_app"),
        ({"app": "probe", "version": "9.9"}, 404, "unknown_version"),
        ({"app": "probe", "case_id": case}, 404, "not_found"),  # not alice's case
        ({"app": "probe", "extra": 1}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
    ]
    for body, status, code in refusals:
        got, reply = await sessions.call("POST", "/api/v1/sessions", alice, json=body)
        assert (got, reply["error"]["code"]) == (status, code), (body, reply)
    got, reply = await sessions.call("POST", "/api/v1/sessions", json={"app": "probe",
                                                                       "case_id": case})
    assert (got, reply["error"]["code"]) == (400, "case_app_mismatch")  # the admin's own
    for method in ("GET", "DELETE"):
        got, reply = await sessions.call(method, "/api/v1/sessions/not-a-session", alice)
        assert got == 404 and reply["error"]["code"] == "not_found"
    assert await sessions.call("GET", "/api/v1/sessions", alice) == before
    assert sessions.platform.containers() == []


async def test_killed_container_is_lost_and_reopens_from_its_autosave(
    sessions: SessionPlatform,
) -> None:
    alice = await user(sessions, "alice")
    session = await sessions.ready(token=alice)
    sid = session["id"]
    status, saved, _ = await through(sessions, "POST", sid, "save?name=autosave&autosave=1",
                                     alice, data=b"the last autosave")
    assert status == 200, saved
    kill = await asyncio.create_subprocess_exec("docker", "kill", sessions.container_of(sid),
                                                stdout=asyncio.subprocess.DEVNULL)
    assert await kill.wait() == 0
    lost = await sessions.settled(sid, alice, leave=("ready",), timeout_s=30)
    assert lost["state"] == "lost" and lost["reason"] == "lease_expired"
    assert "autosave" in lost["message"] and lost["autosave_case_id"] == saved["case_id"]
    again = await sessions.ready(token=alice, case_id=lost["autosave_case_id"])
    status, data, _ = await through(sessions, "GET", again["id"], "case", alice)
    assert status == 200 and data == b"the last autosave"


async def test_a_launch_that_fails_says_why(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    session = await sessions.open("transport", alice)  # no fake agent in it: the agent ends
    failed = await sessions.settled(session["id"], alice, timeout_s=30)
    assert failed["state"] == "failed" and failed["reason"] == "infrastructure"
    assert failed["message"]
    assert sessions.platform.containers() == []


async def test_per_user_limit_through_the_api(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    opened = [await sessions.open(token=alice) for _ in range(3)]
    status, reply = await sessions.call("POST", "/api/v1/sessions", alice, json={"app": "probe"})
    assert status == 429 and reply["error"]["code"] == "quota_exceeded"
    assert reply["error"]["details"] == {"quota": "sessions", "limit": 3, "used": 3}
    await sessions.call("DELETE", f"/api/v1/sessions/{opened[0]['id']}", alice)
    await sessions.settled(opened[0]["id"], alice, leave=("requested", "starting", "ready",
                                                           "stopping"))
    assert (await sessions.open(token=alice))["state"] == "requested"
    await asyncio.gather(*(sessions.settled(s["id"], alice) for s in opened[1:]))
