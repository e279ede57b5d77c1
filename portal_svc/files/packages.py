"""Runtime and app uploads: streamed to S3, verified on the way, registered in one step.

The same code serves the REST API and the browser pages (they differ only in how the caller
signed in). An upload lands under ``staging/{upload_id}`` while it is checked (the multipart
upload completes only once the check passed, see ``streaming.py``). Then it is copied to its
final key, named from what the check read, and registered with the backend:

- runtimes: ``runtimes/{version}/{upload_id}/runtime.mprt``
- apps: ``apps/{name}/{version}/{upload_id}/app.mpapp``

The ``upload_id`` level keeps two concurrent uploads of the same version apart: the one the
backend refuses (409) removes only its own copy, never the blob of the one it accepted. On any
failure the staged and final objects are deleted, so S3 is exactly as before. The one
exception is a registration whose outcome is unknown (the backend did not answer in time): the
final object stays, since the backend may have recorded it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from aiohttp import web

from common.contracts.methods import RegistryMethods
from common.contracts.registry import AppVersionOut, RuntimeOut
from common.errors import Forbidden
from common.packages import AppHeader
from common.storage import StoredObject
from portal_svc.auth import Caller
from portal_svc.backend_client import BackendClient
from portal_svc.files.bodies import open_upload
from portal_svc.files.bucket import STAGING_PREFIX, PortalStorage
from portal_svc.files.checks import RuntimeChecked, app_check, runtime_check
from portal_svc.files.streaming import Check, store_checked
from portal_svc.files.trust import PackageKeys

log = structlog.get_logger(__name__)
T = TypeVar("T")
R = TypeVar("R")
Register = Callable[[T, StoredObject], Awaitable[R]]


def require_admin(caller: Caller, what: str) -> None:
    """Refuse a non-admin before a byte of the upload is read.

    The backend decides at registration as well; asking first spares a large upload that
    would be refused at the end.
    """
    if not caller.user.is_admin:
        raise Forbidden(f"only administrators may {what}", code="forbidden")


def require_publisher(caller: Caller, what: str) -> None:
    """Refuse a caller whose role may not publish (neither publisher nor admin) before a byte
    of the upload is read; the backend then decides whether the app is theirs to publish."""
    if not caller.principal.is_publisher:
        raise Forbidden(f"only publishers and administrators may {what}", code="forbidden")


class Depot:
    """Publishes runtimes and apps; see the module's docstring for the S3 layout."""

    def __init__(self, storage: PortalStorage, backend: BackendClient, keys: PackageKeys):
        self.storage = storage
        self.backend = backend
        self.keys = keys

    async def publish_runtime(self, caller: Caller, request: web.Request) -> RuntimeOut:
        """Stream, verify and register the runtime package in ``request``'s body."""
        require_admin(caller, "upload runtimes")
        check = runtime_check(self.keys.require_trusted(), self.keys.runtime_limits)

        def key(found: RuntimeChecked, upload_id: str) -> str:
            return f"runtimes/{found.manifest.runtime_version}/{upload_id}/runtime.mprt"

        async def register(found: RuntimeChecked, stored: StoredObject) -> RuntimeOut:
            manifest = found.manifest
            return await self.backend.call(
                RegistryMethods.REGISTER_RUNTIME, actor=caller.principal,
                version=manifest.runtime_version, manifest=manifest.model_dump(mode="json"),
                s3_key=stored.key, sha256=stored.sha256, size_bytes=stored.size,
                signer_key_id=found.signer_key_id)

        runtime = await self._publish(request, self.keys.max_runtime_bytes, check, key, register)
        log.info("runtime_published", version=runtime.version, size=runtime.size_bytes)
        return runtime

    async def publish_app(
        self, caller: Caller, request: web.Request, *, activate: bool = True
    ) -> AppVersionOut:
        """Stream, decrypt-check and register the app package in ``request``'s body."""
        require_publisher(caller, "upload apps")
        check = app_check(self.keys.require_platform_key(), self.keys.app_limits)

        def key(header: AppHeader, upload_id: str) -> str:
            return f"apps/{header.app.name}/{header.app.version}/{upload_id}/app.mpapp"

        async def register(header: AppHeader, stored: StoredObject) -> AppVersionOut:
            app = header.app
            return await self.backend.call(
                RegistryMethods.PUBLISH_APP, actor=caller.principal, name=app.name,
                version=app.version, title=app.title, runtime_requirement=app.runtime,
                manifest=app.model_dump(mode="json"), s3_key=stored.key, sha256=stored.sha256,
                size_bytes=stored.size, activate=activate)

        version = await self._publish(request, self.keys.max_app_bytes, check, key, register)
        log.info("app_published", app=version.app, version=version.version)
        return version

    async def delete_runtime(self, caller: Caller, version: str) -> None:
        """Forget the runtime (409 while in use), then remove its blob."""
        deleted = await self.backend.call(
            RegistryMethods.DELETE_RUNTIME, actor=caller.principal, version=version)
        await self.storage.discard(deleted.s3_key)

    async def delete_app_version(self, caller: Caller, name: str, version: str) -> None:
        """Forget the app version (409 while in use), then remove its blob."""
        deleted = await self.backend.call(
            RegistryMethods.DELETE_APP_VERSION, actor=caller.principal, name=name, version=version)
        await self.storage.discard(deleted.s3_key)

    async def _publish(
        self, request: web.Request, max_bytes: int, check: Check[T],
        final_key: Callable[[T, str], str], register: Register[T, R],
    ) -> R:
        body = await open_upload(request, max_bytes)
        upload_id = uuid.uuid4().hex
        staged = f"{STAGING_PREFIX}{upload_id}"
        try:
            checked = await store_checked(self.storage, staged, body.chunks(), check)
            final = final_key(checked.result, upload_id)
            return await self._register_copy(checked.stored, final, checked.result, register)
        finally:
            await self.storage.discard(staged)

    async def _register_copy(
        self, staged: StoredObject, final: str, found: T, register: Register[T, R]
    ) -> R:
        async def copy_and_register() -> R:
            return await register(found, await self.storage.copy(staged, final))

        return await self.storage.keep_if_registered(final, copy_and_register())
