"""The session cookie is Secure, and HSTS is sent, exactly when the portal is reached over
https: a TLS connection, or a trusted proxy's ``X-Forwarded-Proto: https``. A client that
claims https itself is not believed. Real backend and portals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from backend_svc.service import BackendService
from common.settings import S3Settings
from portal_svc.service import PortalService
from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, csrf_of, running_portal

HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture
async def behind_proxy(backend: BackendService, amqp_url: str,
                       s3_settings: S3Settings) -> AsyncIterator[str]:
    """A portal that trusts proxies on loopback (where this test connects from)."""
    async for service in running_portal(amqp_url, s3_settings, trusted_proxies=["127.0.0.0/8"]):
        yield f"http://127.0.0.1:{service.port}"


async def _sign_in(url: str, headers: dict[str, str]) -> tuple[str, aiohttp.ClientResponse]:
    """The Set-Cookie header of a page sign-in, and the sign-in's response. The cookie is
    carried by hand: a client's jar would not send a Secure cookie back over plain http."""
    jar = aiohttp.DummyCookieJar()
    async with aiohttp.ClientSession(base_url=url, cookie_jar=jar, headers=headers) as http:
        async with http.get("/login") as resp:
            csrf = csrf_of(await resp.text())
            session = resp.cookies["modelport_session"].coded_value
        async with http.post("/login", allow_redirects=False, data={
                "csrf_token": csrf, "username": ADMIN_USER, "password": ADMIN_PASSWORD},
                headers={"Cookie": f"modelport_session={session}"}) as resp:
            assert resp.status == 303
            return resp.headers["Set-Cookie"], resp


async def test_https_from_a_trusted_proxy_marks_the_cookie_secure(behind_proxy: str) -> None:
    cookie, resp = await _sign_in(behind_proxy, HTTPS)
    assert cookie.startswith("modelport_session=") and "Secure" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
    async with aiohttp.ClientSession() as http, http.get(behind_proxy + "/login",
                                                         headers=HTTPS) as page:
        assert "Strict-Transport-Security" in page.headers
    cookie, resp = await _sign_in(behind_proxy, {"X-Forwarded-Proto": "http"})
    assert "Secure" not in cookie and "Strict-Transport-Security" not in resp.headers


async def test_plain_http_or_an_untrusted_claim_is_not_secure(portal: PortalService) -> None:
    url = f"http://127.0.0.1:{portal.port}"
    for headers in ({}, HTTPS):  # this portal trusts no proxy: the header is the client's
        cookie, resp = await _sign_in(url, headers)
        assert "Secure" not in cookie and "HttpOnly" in cookie
        assert "Strict-Transport-Security" not in resp.headers
