"""When the backend is away, slow or broken, the portal answers clearly and leaks nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aio_pika.abc import AbstractRobustConnection

from backend_svc.service import BackendService
from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from common.settings import S3Settings
from portal_svc.app import make_app
from portal_svc.backend_client import BackendClient
from portal_svc.service import PortalService
from tests.portal.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    bearer,
    csrf_of,
    login,
    portal_service,
    portal_settings,
)
from tests.portal.fakes import ExplodingBackend, GatedBackend

LOGIN_BODY = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}


@pytest.fixture
async def lonely_portal(amqp_url: str, s3_settings: S3Settings) -> AsyncIterator[PortalService]:
    """A portal whose backend never answers (nothing consumes the backend queue)."""
    service = portal_service(amqp_url, s3_settings, rpc_timeout_s=0.5)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_no_backend_is_503(lonely_portal: PortalService) -> None:
    base = f"http://127.0.0.1:{lonely_portal.port}"
    async with aiohttp.ClientSession(base_url=base) as http:
        async with http.post("/api/v1/auth/login", json=LOGIN_BODY) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "no_server"  # no queue: fails fast
        async with http.get("/readyz") as resp:
            assert resp.status == 503
            assert (await resp.json())["checks"] == {"amqp": True, "backend": False, "s3": True}


async def test_closed_broker_link_is_503(amqp_url: str, aiohttp_client: Any) -> None:
    connection = await connect(amqp_url, deadline_s=10, name="test-portal")
    rpc = RpcClient(connection, timeout_s=2)
    await rpc.start()
    await connection.close()
    app = make_app(portal_settings(amqp_url), BackendClient(rpc, connection))
    client = await aiohttp_client(app)
    resp = await client.post("/api/v1/auth/login", json=LOGIN_BODY)
    assert resp.status == 503
    error = (await resp.json())["error"]
    assert error["code"] == "broker_unavailable"
    assert error["message"].startswith("message broker unavailable")
    resp = await client.get("/readyz")
    assert resp.status == 503 and (await resp.json())["checks"]["amqp"] is False


async def test_unexpected_error_is_500_without_internals(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(portal_settings("amqp://unused/"), ExplodingBackend()))
    resp = await client.post("/api/v1/auth/login", json=LOGIN_BODY)
    assert resp.status == 500
    text = await resp.text()
    assert ExplodingBackend.SECRET not in text and "Traceback" not in text
    assert (await resp.json())["error"]["code"] == "internal"
    form = await (await client.get("/login")).text()
    resp = await client.post("/login", data={**LOGIN_BODY, "csrf_token": csrf_of(form)})
    assert resp.status == 500 and resp.content_type == "text/html"
    page = await resp.text()
    assert ExplodingBackend.SECRET not in page and resp.headers["X-Request-ID"] in page


class GatedPortal(PortalService):
    def make_backend(self, rpc: RpcClient, connection: AbstractRobustConnection) -> BackendClient:
        self.backend = GatedBackend(rpc, connection)
        return self.backend


async def _refused(port: int, deadline_s: float = 5.0) -> bool:
    """True once the port refuses connections, polling until the deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while loop.time() < end:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return True
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.02)
    return False


async def test_stop_drains_requests_in_flight(
    backend: BackendService, amqp_url: str, s3_settings: S3Settings
) -> None:
    portal = portal_service(amqp_url, s3_settings, cls=GatedPortal)
    assert isinstance(portal, GatedPortal)
    await portal.start()
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{portal.port}") as http:
        token = await login(http, ADMIN_USER, ADMIN_PASSWORD)
        request = asyncio.create_task(http.get("/api/v1/users", headers=bearer(token)))
        await asyncio.wait_for(portal.backend.entered.wait(), 5)
        stopping = asyncio.create_task(portal.stop())
        assert await _refused(portal.port), "the portal kept accepting after stop()"
        assert not stopping.done()
        portal.backend.gate.set()
        resp = await asyncio.wait_for(request, 5)
        assert resp.status == 200 and (await resp.json())["total"] == 1
        await asyncio.wait_for(stopping, 10)
