"""The browser's way in, over plain HTTP with the portal's cookie: Open and Run as job from the
Apps page, the Sessions page and the dashboard, and the proxy's cookie → grant redirect (a
stranger's cookie gets 404, a forged grant gets nothing)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.sessions.platform import SessionPlatform

pytestmark = pytest.mark.timeout(240)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """An aiohttp client with a cookie jar, signed in through the login form."""

    def __init__(self, sessions: SessionPlatform, http: aiohttp.ClientSession) -> None:
        self.sessions, self.http = sessions, http

    def url(self, path: str) -> str:
        return str(self.sessions.stack.url(path))

    async def csrf(self, path: str) -> str:
        async with self.http.get(self.url(path)) as reply:
            found = CSRF.search(await reply.text())
        assert found is not None, path
        return found.group(1)

    async def sign_in(self, name: str) -> None:
        await self.sessions.stack.create_user(name, "password-123")
        form = {"username": name, "password": "password-123",
                "csrf_token": await self.csrf("/login")}
        async with self.http.post(self.url("/login"), data=form) as reply:
            assert reply.status == 200 and reply.url.path == "/", reply.url

    async def post(self, path: str, form: dict[str, str]) -> aiohttp.ClientResponse:
        form = {**form, "csrf_token": await self.csrf("/apps")}
        async with self.http.post(self.url(path), data=form, allow_redirects=False) as reply:
            await reply.read()
            return reply

    async def get(self, path: str, **kwargs: object) -> tuple[int, str, str]:
        async with self.http.get(self.url(path), **kwargs) as reply:  # type: ignore[arg-type]
            return reply.status, await reply.text(), reply.url.path


@pytest.fixture
async def browsers(sessions: SessionPlatform) -> AsyncIterator[tuple[Browser, Browser]]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as one, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as two:
        yield Browser(sessions, one), Browser(sessions, two)


async def test_open_from_the_apps_page_follow_it_and_reach_it_through_a_grant(
    sessions: SessionPlatform, browsers: tuple[Browser, Browser],
) -> None:
    alice, bob = browsers
    await alice.sign_in("alice")
    await bob.sign_in("bob")
    status, apps, _ = await alice.get("/apps")
    assert 'data-open="probe"' in apps and 'data-run="probe"' in apps
    opened = await alice.post("/sessions", {"app": "probe"})
    assert opened.status == 303
    page = opened.headers["Location"]
    session_id = page.rsplit("/", 1)[1]
    await sessions.settled(session_id, leave=("requested", "starting"))
    status, shown, _ = await alice.get(page)
    assert status == 200 and 'id="session-open"' in shown
    status, listed, _ = await alice.get("/sessions")
    assert session_id in listed and "ready" in listed
    status, dashboard, _ = await alice.get("/")
    assert f"/sessions/{session_id}" in dashboard
    status, body, path = await alice.get(f"/s/{session_id}/")
    assert status == 200 and "probe session" in body
    assert path.startswith(f"/s/{session_id}/k/")
    status, _, _ = await bob.get(f"/s/{session_id}/")
    assert status == 404
    status, _, _ = await bob.get(page)
    assert status == 404
    forged = path.replace("/k/", "/k/x", 1)
    status, _, _ = await bob.get(forged, allow_redirects=False)
    assert status == 303  # back to the cookie check, which bob fails
    async with bob.http.post(bob.url(forged + "save"), data=b"x") as reply:
        assert reply.status == 404
    stopped = await bob.post(f"/sessions/{session_id}/stop", {})
    assert stopped.status == 404
    assert (await sessions.settled(session_id, leave=()))["state"] == "ready"


async def test_run_as_job_from_the_apps_page(
    sessions: SessionPlatform, browsers: tuple[Browser, Browser],
) -> None:
    alice, _ = browsers
    await alice.sign_in("alice")
    ran = await alice.post("/jobs/run", {"app": "transport", "procedure": "solve",
                                         "case_id": "", "priority": "3"})
    assert ran.status == 303 and ran.headers["Location"].startswith("/jobs/")
    job_id = ran.headers["Location"].rsplit("/", 1)[1]
    status, job = await sessions.call("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200 and job["priority"] == 3 and job["user"] == "alice"
    refused = await alice.post("/jobs/run", {"app": "nope", "procedure": "solve"})
    assert refused.status == 303 and refused.headers["Location"] == "/apps"
    status, apps, _ = await alice.get("/apps")
    assert "Could not run nope" in apps
