"""The Apps, Runtimes and Cases pages through a browser's session: uploads need the page's
CSRF header and answer JSON; forms activate, rename and delete; downloads are verified."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.portal.conftest import csrf_of
from tests.portal.uploads import case_bytes, error_code, publish_transport, unchanged
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER, Stack


class Browser:
    """A cookie-keeping client signed in through the login form."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.csrf = ""

    async def sign_in(self, username: str, password: str) -> None:
        async with self.http.get("/login") as resp:
            form = csrf_of(await resp.text())
        async with self.http.post("/login", data={
            "username": username, "password": password, "csrf_token": form,
        }) as resp:
            assert resp.status == 200 and resp.url.path == "/"
            self.csrf = csrf_of(await resp.text())

    async def page(self, path: str) -> str:
        async with self.http.get(path) as resp:
            assert resp.status == 200, path
            return await resp.text()

    async def upload(
        self, path: str, data: bytes, *, csrf: str | None = None, **fields: str
    ) -> tuple[int, dict[str, object]]:
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        form.add_field("file", data, filename="upload.bin")
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        async with self.http.post(path, data=form, headers=headers) as resp:
            return resp.status, await resp.json()

    async def submit(self, path: str, **fields: str) -> aiohttp.ClientResponse:
        async with self.http.post(path, data={"csrf_token": self.csrf, **fields}) as resp:
            await resp.read()
            return resp


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[Browser]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=stack.portal_url, cookie_jar=jar) as http:
        signed_in = Browser(http)
        await signed_in.sign_in(ADMIN_USER, ADMIN_PASSWORD)
        yield signed_in


async def test_pages_show_nav_and_empty_states(browser: Browser) -> None:
    for path, empty in (("/apps", "No apps yet"), ("/runtimes", "No runtimes yet"),
                        ("/cases", "No cases yet")):
        html = await browser.page(path)
        assert empty in html and f'href="{path}" class="active"' in html
        assert 'href="/apps"' in html and 'href="/runtimes"' in html and 'href="/cases"' in html
        assert "<script src=\"/static/upload.js\"" in html and "<script>" not in html


async def test_uploads_through_the_pages(stack: Stack, browser: Browser) -> None:
    status, runtime = await browser.upload("/runtimes/upload",
                                           stack.pack_runtime("1.2.0").read_bytes())
    assert status == 201 and runtime["version"] == "1.2.0"
    status, version = await browser.upload("/apps/upload", stack.pack_app().read_bytes())
    assert status == 201 and (version["app"], version["version"]) == ("transport", "1.0.0")
    data = case_bytes()
    status, case = await browser.upload("/cases/upload", data, app="transport",
                                        name="from the page")
    assert status == 201 and case["name"] == "from the page"

    assert "1.2.0" in await browser.page("/runtimes")
    assert 'data-version="1.0.0"' in await browser.page("/apps")
    assert "from the page" in await browser.page("/cases")
    async with browser.http.get(f"/cases/{case['id']}/download") as resp:
        assert resp.status == 200 and await resp.read() == data


async def test_uploads_need_the_csrf_header_and_a_session(stack: Stack, browser: Browser) -> None:
    package = stack.pack_runtime("1.2.0").read_bytes()
    async with unchanged(stack):
        for csrf in ("", "forged"):
            status, body = await browser.upload("/runtimes/upload", package, csrf=csrf)
            assert (status, error_code(body)) == (403, "csrf_failed")
        async with aiohttp.ClientSession(base_url=stack.portal_url) as stranger:
            form = aiohttp.FormData()
            form.add_field("file", package, filename="r.mprt")
            async with stranger.post("/runtimes/upload", data=form,
                                     headers={"X-CSRF-Token": browser.csrf}) as resp:
                assert resp.status == 403  # no session, so no CSRF token to match
                assert error_code(await resp.json()) == "csrf_failed"


async def test_a_refused_page_upload_answers_json(stack: Stack, browser: Browser) -> None:
    async with unchanged(stack):
        status, body = await browser.upload("/runtimes/upload",
                                            stack.pack_runtime(key=stack.untrusted_key)
                                            .read_bytes())
        assert (status, error_code(body)) == (400, "untrusted_key")
        status, body = await browser.upload("/cases/upload", case_bytes())
        assert (status, error_code(body)) == (400, "invalid_request")  # no app named


async def test_activate_rename_and_delete_forms(stack: Stack, browser: Browser) -> None:
    await publish_transport(stack)
    html = await browser.page("/apps")
    assert "Activate" not in html  # the only version is active already
    resp = await browser.submit("/apps/transport/versions/1.0.0/activate")
    assert resp.status == 200 and resp.url.path == "/apps"
    assert "Transport 1.0.0 is now the active version." in await resp.text()

    status, case = await browser.upload("/cases/upload", case_bytes(), app="transport")
    assert status == 201
    resp = await browser.submit(f"/cases/{case['id']}/rename", name="renamed")
    assert resp.status == 200 and "Renamed to renamed." in await resp.text()
    resp = await browser.submit(f"/cases/{case['id']}/delete")
    assert resp.status == 200 and "The case was deleted." in await resp.text()
    assert (await stack.snapshot()).rows["cases"] == 0

    async with browser.http.post("/runtimes/1.2.0/delete",
                                 data={"csrf_token": "forged"}) as forged:
        assert forged.status == 403
    resp = await browser.submit("/runtimes/1.2.0/delete")
    assert resp.status == 409 and "in use" in await resp.text()  # an HTML error page
