"""A real backend_svc and a real portal in-process, on a fresh database and vhost per test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from cryptography.fernet import Fernet

from backend_svc.service import BackendService
from backend_svc.settings import BackendSettings
from common.settings import PackageSettings, S3Settings
from portal_svc.service import PortalService
from portal_svc.settings import PortalSettings
from tests.portal.jobs_support import WorkerDriver, jobs_stack
from tests.support import db_state
from tests.support.stack import Stack, running_stack

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-password-1"


def portal_settings(amqp_url: str, **extra: object) -> PortalSettings:
    """Settings for a portal on a free loopback port with a fixed cookie key."""
    values: dict[str, object] = {
        "amqp_url": amqp_url, "port": 0, "cookie_secret": Fernet.generate_key().decode(),
        "rpc_timeout_s": 5, "connect_deadline_s": 10, "shutdown_grace_s": 5, "max_body_kb": 64,
    }
    values.update(extra)
    return PortalSettings.model_validate(values)


@pytest.fixture
async def backend(pg_dsn: str, amqp_url: str) -> AsyncIterator[BackendService]:
    service = BackendService(BackendSettings(
        database_url=pg_dsn, amqp_url=amqp_url, status_port=0, admin_user=ADMIN_USER,
        admin_password=ADMIN_PASSWORD, connect_deadline_s=10, shutdown_grace_s=5,
    ))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


NO_KEYS = PackageSettings(platform_key_file="", trusted_keys="")


def portal_service(
    amqp_url: str, s3_settings: S3Settings, *, cls: type[PortalService] = PortalService,
    **extra: object,
) -> PortalService:
    """A portal on ``s3_settings``'s bucket, without package keys (uploads answer 503)."""
    return cls(portal_settings(amqp_url, **extra), s3=s3_settings, packages=NO_KEYS)


async def running_portal(amqp_url: str, s3_settings: S3Settings,
                         **extra: object) -> AsyncIterator[PortalService]:
    """A started :func:`portal_service` (``extra``: PortalSettings fields), stopped after."""
    service = portal_service(amqp_url, s3_settings, **extra)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def portal(
    backend: BackendService, amqp_url: str, s3_settings: S3Settings
) -> AsyncIterator[PortalService]:
    async for service in running_portal(amqp_url, s3_settings):
        yield service


@pytest.fixture
def portal_url(portal: PortalService) -> str:
    return f"http://127.0.0.1:{portal.port}"


@pytest.fixture
async def http(portal_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the running portal with its own cookie jar."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for a bare IP address
    async with aiohttp.ClientSession(base_url=portal_url, cookie_jar=jar) as session:
        yield session


@pytest.fixture
async def db(pg_dsn: str, backend: BackendService) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the backend's test database, to check what changed."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def user_tables(db: asyncpg.Connection) -> dict[str, db_state.TableState]:
    """What the users and api_tokens tables hold now (row counts and content digests)."""
    return await db_state.tables(db, ["users", "api_tokens"])


async def login(http: aiohttp.ClientSession, username: str, password: str) -> str:
    """An API token for the user; fails the test when login does not succeed."""
    async with http.post("/api/v1/auth/login",
                         json={"username": username, "password": password}) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(html: str) -> str:
    """The CSRF token in a rendered form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


@pytest.fixture
async def stack(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> AsyncIterator[Stack]:
    """Backend + portal with S3 and package keys (see tests/support/stack.py); every kind of
    upload is limited to 1 MiB, so the size limits can be tested with small files."""
    limits = {"max_runtime_mb": 1, "max_app_mb": 1, "max_case_mb": 1}
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path, packages=limits) as running:
        yield running


@pytest.fixture
async def jobs(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path
) -> AsyncIterator[tuple[Stack, WorkerDriver]]:
    """A stack with transport published and a fake solve worker to drive
    (:func:`tests.portal.jobs_support.jobs_stack`)."""
    async with jobs_stack(pg_dsn, amqp_url, s3_settings, tmp_path) as found:
        yield found
