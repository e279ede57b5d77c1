"""A whole platform in-process for tests: backend_svc + portal_svc on real servers.

``running_stack`` starts a backend (fresh database) and a portal (fresh vhost, fresh bucket)
with a platform key and a trusted publisher key generated under ``tmp_path``, signs in the
bootstrap admin, and hands back a :class:`Stack` with everything a test needs: URLs, tokens,
keys, package builders, and snapshots of S3 and PostgreSQL to assert that a refused request
changed nothing::

    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path) as stack:
        package = stack.pack_runtime("1.0.0")
        before = await stack.snapshot()
        ...
        assert await stack.snapshot() == before
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiobotocore.session import get_session
from cryptography.fernet import Fernet

from backend_svc.service import BackendService
from backend_svc.settings import BackendSettings
from common.packages import (
    PlatformPublicKey,
    SigningKey,
    generate_platform_key,
    generate_signing_key,
    load_platform_key,
    pack_app,
    pack_runtime,
    save_private_key,
    save_public_key,
    signing_key_from_pem,
)
from common.settings import PackageSettings, S3Settings
from portal_svc.service import PortalService
from portal_svc.settings import PortalSettings
from tests.support import db_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-password-1"
STACK_TIMEOUTS: dict[str, Any] = {"connect_deadline_s": 10, "shutdown_grace_s": 5}


@dataclass(frozen=True)
class Snapshot:
    """What S3 and PostgreSQL hold: every key in the bucket (staging included) and its ETag,
    the pending multipart uploads, the row count of every table and a digest of its rows
    (tests/support/db_state.py)."""

    s3_keys: list[str]
    s3_etags: dict[str, str]
    pending_uploads: list[str]
    rows: dict[str, int]
    contents: dict[str, str]


@dataclass
class Stack:
    """A running backend + portal; see the module docstring."""

    portal_url: str
    admin_token: str
    platform_public_key: PlatformPublicKey
    signing_key: SigningKey  # trusted by the portal
    signing_key_file: Path  # its private PEM (mode 0600), e.g. for ``modelport runtime pack``
    untrusted_key: SigningKey  # a valid key the portal does not trust
    s3_settings: S3Settings
    pg_dsn: str
    work_dir: Path
    backend: BackendService
    portal: PortalService
    _s3: Any = field(repr=False, default=None)

    def url(self, path: str) -> str:
        return self.portal_url + path

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin_headers(self) -> dict[str, str]:
        return self.bearer(self.admin_token)

    async def login(self, username: str, password: str) -> str:
        """An API token for the user."""
        async with aiohttp.ClientSession() as http, http.post(
            self.url("/api/v1/auth/login"), json={"username": username, "password": password}
        ) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["token"])

    async def create_user(self, username: str, password: str, *, is_admin: bool = False) -> str:
        """Create a user through the API (as the admin) and return their token."""
        body = {"username": username, "password": password, "is_admin": is_admin}
        async with aiohttp.ClientSession() as http, http.post(
            self.url("/api/v1/users"), json=body, headers=self.admin_headers
        ) as resp:
            assert resp.status == 201, await resp.text()
        return await self.login(username, password)

    # --- packages --------------------------------------------------------------------------

    def pack_runtime(
        self, version: str = "1.0.0", *, key: SigningKey | None = None, image_bytes: int = 150_000
    ) -> Path:
        """A runtime package of a small fake image, signed by ``key`` (the trusted one)."""
        image = fake_image(self.work_dir / f"image-{version}.tar", image_bytes)
        out = self.work_dir / f"runtime-{version}-{(key or self.signing_key).key_id}.mprt"
        pack_runtime(image, runtime_fields(version), key or self.signing_key, out)
        return out

    def pack_app(self, src: Path | str = "transport", *, out: Path | None = None) -> Path:
        """An app package of ``src`` (a folder, or the name of one in ``examples/``) encrypted
        for this platform."""
        src_dir = EXAMPLES / src if isinstance(src, str) else src
        out = out or self.work_dir / f"{src_dir.name}.mpapp"
        pack_app(src_dir, self.platform_public_key, out)
        return out

    # --- what the servers hold -------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """The current contents of the bucket and of every table."""
        etags = await self._s3_etags()
        states = await self._tables()
        return Snapshot(sorted(etags), etags, await self._pending_uploads(),
                        {name: t.rows for name, t in states.items()},
                        {name: t.md5 for name, t in states.items()})

    async def s3_bytes(self, key: str) -> bytes:
        """The stored bytes of ``key`` (read behind the portal's back)."""
        reply = await self._s3.get_object(Bucket=self.s3_settings.bucket, Key=key)
        async with reply["Body"] as body:
            return bytes(await body.read())

    async def s3_put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        """Write ``key`` behind the portal's back (e.g. to corrupt a stored object)."""
        await self._s3.put_object(Bucket=self.s3_settings.bucket, Key=key, Body=data,
                                  Metadata=metadata or {})

    async def _s3_etags(self) -> dict[str, str]:
        etags: dict[str, str] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.s3_settings.bucket):
            etags.update((item["Key"], item["ETag"]) for item in page.get("Contents", []))
        return etags

    async def _pending_uploads(self) -> list[str]:
        reply = await self._s3.list_multipart_uploads(Bucket=self.s3_settings.bucket)
        return sorted(f"{u['Key']}#{u['UploadId']}" for u in reply.get("Uploads", []))

    async def _tables(self) -> dict[str, db_state.TableState]:
        conn = await asyncpg.connect(self.pg_dsn)
        try:
            return await db_state.tables(conn)
        finally:
            await conn.close()


def fake_image(path: Path, size: int = 150_000) -> Path:
    """A small tar shaped like ``docker save`` output, with random content."""
    with tarfile.open(path, "w") as tar:
        for name, data in (("manifest.json", b"[]"), ("blobs/sha256/layer", os.urandom(size))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def runtime_fields(version: str) -> dict[str, Any]:
    """Manifest fields of a test runtime of ``version``."""
    return {
        "runtime_version": version,
        "python_version": "3.11.7",
        "solvers": {"highs": "1.7.2"},
        "image_reference": f"modelport/runtime:{version}",
        "image_digest": "sha256:" + hashlib.sha256(version.encode()).hexdigest(),
        "created": "2024-05-01T12:00:00Z",
    }


@dataclass(frozen=True)
class _Keys:
    platform_key_file: Path
    trusted_keys_file: Path
    signing_key_file: Path
    signing_key: SigningKey
    untrusted_key: SigningKey


def _make_keys(directory: Path) -> _Keys:
    directory.mkdir(parents=True, exist_ok=True)
    platform_pem, _ = generate_platform_key("test platform")
    save_private_key(directory / "platform.pem", platform_pem)
    signing_pem, signing_public = generate_signing_key("test publisher")
    save_private_key(directory / "publisher.pem", signing_pem)
    save_public_key(directory / "trusted.pub", signing_public)
    return _Keys(directory / "platform.pem", directory / "trusted.pub",
                 directory / "publisher.pem", signing_key_from_pem(signing_pem),
                 signing_key_from_pem(generate_signing_key("stranger")[0]))


def package_settings(keys_dir: Path, **overrides: Any) -> PackageSettings:
    """Package settings pointing at the keys in ``keys_dir`` (see ``running_stack``)."""
    values: dict[str, Any] = {
        "platform_key_file": str(keys_dir / "platform.pem"),
        "trusted_keys": str(keys_dir / "trusted.pub"),
    }
    return PackageSettings.model_validate({**values, **overrides})


@contextlib.asynccontextmanager
async def running_stack(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, *,
    packages: dict[str, Any] | None = None, portal: dict[str, Any] | None = None,
    backend: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """Start backend and portal; yield the :class:`Stack`; stop both.

    ``packages`` overrides PackageSettings fields (e.g. ``{"max_app_mb": 1}`` or
    ``{"platform_key_file": ""}``); ``portal`` and ``backend`` override PortalSettings and
    BackendSettings fields.
    """
    keys = _make_keys(tmp_path / "keys")
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    backend_service = BackendService(BackendSettings.model_validate({
        "database_url": pg_dsn, "amqp_url": amqp_url, "status_port": 0,
        "admin_user": ADMIN_USER, "admin_password": ADMIN_PASSWORD, **STACK_TIMEOUTS,
        **(backend or {}),
    }))
    portal_service = PortalService(
        _portal_settings(amqp_url, portal or {}), s3=s3_settings,
        packages=package_settings(tmp_path / "keys", **(packages or {})),
    )
    async with contextlib.AsyncExitStack() as exits:
        await backend_service.start()
        exits.push_async_callback(backend_service.stop)
        await portal_service.start()
        exits.push_async_callback(portal_service.stop)
        s3 = await exits.enter_async_context(_s3_client(s3_settings))
        stack = Stack(
            portal_url=f"http://127.0.0.1:{portal_service.port}", admin_token="",
            platform_public_key=load_platform_key(keys.platform_key_file).public_key,
            signing_key=keys.signing_key, signing_key_file=keys.signing_key_file,
            untrusted_key=keys.untrusted_key, s3_settings=s3_settings, pg_dsn=pg_dsn,
            work_dir=work, backend=backend_service, portal=portal_service, _s3=s3,
        )
        stack.admin_token = await stack.login(ADMIN_USER, ADMIN_PASSWORD)
        yield stack


def _portal_settings(amqp_url: str, overrides: dict[str, Any]) -> PortalSettings:
    values: dict[str, Any] = {
        "amqp_url": amqp_url, "port": 0, "cookie_secret": Fernet.generate_key().decode(),
        "rpc_timeout_s": 10, **STACK_TIMEOUTS,
    }
    return PortalSettings.model_validate({**values, **overrides})


def _s3_client(settings: S3Settings) -> Any:
    """A plain aiobotocore client on the stack's S3, to look behind the portal's back."""
    return get_session().create_client(
        "s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
        aws_access_key_id=settings.access_key.get_secret_value(),
        aws_secret_access_key=settings.secret_key.get_secret_value(),
    )
