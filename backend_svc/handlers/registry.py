"""RPC handlers for the registry: runtimes, apps and their versions."""

from __future__ import annotations

import uuid

import asyncpg

from backend_svc import app_rights, apps, registry
from backend_svc.handlers.base import PoolHandlers
from backend_svc.policy import Action
from common.contracts.base import Principal
from common.contracts.method import implements
from common.contracts.methods import RegistryMethods
from common.contracts.registry import (
    AppList,
    AppOut,
    AppRef,
    AppRights,
    AppVersionDeleted,
    AppVersionOut,
    AppVersionRef,
    ListApps,
    ListRuntimes,
    PublishAppVersion,
    RegisterRuntime,
    RuntimeDeleted,
    RuntimeList,
    RuntimeOut,
    RuntimeRef,
    SetAppRights,
)

APP_API_NOT_FOUND = "not_found"  # the code the app API has always answered for an unknown app


class RegistryHandlers(PoolHandlers):

    @implements(RegistryMethods.REGISTER_RUNTIME)
    async def register_runtime(self, request: RegisterRuntime) -> RuntimeOut:
        return await self._write(registry.register_runtime, request.actor, request)

    @implements(RegistryMethods.LIST_RUNTIMES)
    async def list_runtimes(self, request: ListRuntimes) -> RuntimeList:
        return RuntimeList(runtimes=await self._read(registry.list_runtimes))

    @implements(RegistryMethods.GET_RUNTIME)
    async def get_runtime(self, request: RuntimeRef) -> RuntimeOut:
        return await self._read(registry.get_runtime, request.version)

    @implements(RegistryMethods.DELETE_RUNTIME)
    async def delete_runtime(self, request: RuntimeRef) -> RuntimeDeleted:
        key = await self._write(registry.delete_runtime, request.actor, request.version)
        return RuntimeDeleted(s3_key=key)

    @implements(RegistryMethods.PUBLISH_APP)
    async def publish_app(self, request: PublishAppVersion) -> AppVersionOut:
        return await self._write(apps.publish_version, request.actor, request)

    @implements(RegistryMethods.LIST_APPS)
    async def list_apps(self, request: ListApps) -> AppList:
        async with self._pool.acquire() as conn:
            return AppList(apps=await apps.list_apps(conn, request.actor))

    @implements(RegistryMethods.GET_APP)
    async def get_app(self, request: AppRef) -> AppOut:
        async with self._pool.acquire() as conn:
            await _require(conn, request.actor, Action.APP_READ, request.name)
            return await apps.get_app(conn, request.name)

    @implements(RegistryMethods.ACTIVATE_APP)
    async def activate_app(self, request: AppVersionRef) -> AppOut:
        async with self._pool.acquire() as conn, conn.transaction():
            await _require(conn, request.actor, Action.APP_ACTIVATE, request.name)
            return await apps.activate_version(conn, request.actor, request.name,
                                               request.version)

    @implements(RegistryMethods.DELETE_APP_VERSION)
    async def delete_app_version(self, request: AppVersionRef) -> AppVersionDeleted:
        async with self._pool.acquire() as conn, conn.transaction():
            await _require(conn, request.actor, Action.APP_DELETE, request.name)
            key = await apps.delete_version(conn, request.actor, request.name, request.version)
        return AppVersionDeleted(s3_key=key)

    @implements(RegistryMethods.GET_RIGHTS)
    async def get_rights(self, request: AppRef) -> AppRights:
        async with self._pool.acquire() as conn:
            app_id = await _require(conn, request.actor, Action.APP_RIGHTS, request.name)
            return await app_rights.get_rights(conn, app_id, request.name)

    @implements(RegistryMethods.SET_RIGHTS)
    async def set_rights(self, request: SetAppRights) -> AppRights:
        async with self._pool.acquire() as conn, conn.transaction():
            app_id = await _require(conn, request.actor, Action.APP_RIGHTS, request.name)
            return await app_rights.set_rights(conn, request.actor, app_id, request.name,
                                               use=request.use, publish=request.publish)


async def _require(conn: asyncpg.Connection, actor: Principal, action: Action, name: str
                   ) -> uuid.UUID:
    """The app's id once ``actor`` may ``action`` it; 404 when they may not use it."""
    return await app_rights.require(conn, actor, action, name, code=APP_API_NOT_FOUND)
