"""RPC handlers for the registry: runtimes, apps and their versions."""

from __future__ import annotations

from backend_svc import apps, registry
from backend_svc.handlers.base import PoolHandlers
from common.contracts.method import implements
from common.contracts.registry import (
    AppList,
    AppOut,
    AppRef,
    AppVersionDeleted,
    AppVersionOut,
    AppVersionRef,
    ListApps,
    ListRuntimes,
    PublishAppVersion,
    RegisterRuntime,
    RegistryMethods,
    RuntimeDeleted,
    RuntimeList,
    RuntimeOut,
    RuntimeRef,
)


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
        return AppList(apps=await self._read(apps.list_apps))

    @implements(RegistryMethods.GET_APP)
    async def get_app(self, request: AppRef) -> AppOut:
        return await self._read(apps.get_app, request.name)

    @implements(RegistryMethods.ACTIVATE_APP)
    async def activate_app(self, request: AppVersionRef) -> AppOut:
        return await self._write(
            apps.activate_version, request.actor, request.name, request.version)

    @implements(RegistryMethods.DELETE_APP_VERSION)
    async def delete_app_version(self, request: AppVersionRef) -> AppVersionDeleted:
        key = await self._write(apps.delete_version, request.actor, request.name, request.version)
        return AppVersionDeleted(s3_key=key)
