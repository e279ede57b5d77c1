"""RPC handlers for the registry: runtimes, apps and their versions."""

from __future__ import annotations

import asyncpg

from backend_svc import apps, policy, registry
from backend_svc.policy import Action
from common.amqp.rpc import RpcServer
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


class RegistryHandlers:
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    def register(self, server: RpcServer) -> None:
        m = RegistryMethods
        server.register(m.REGISTER_RUNTIME, RegisterRuntime, self.register_runtime)
        server.register(m.LIST_RUNTIMES, ListRuntimes, self.list_runtimes)
        server.register(m.GET_RUNTIME, RuntimeRef, self.get_runtime)
        server.register(m.DELETE_RUNTIME, RuntimeRef, self.delete_runtime)
        server.register(m.PUBLISH_APP, PublishAppVersion, self.publish_app)
        server.register(m.LIST_APPS, ListApps, self.list_apps)
        server.register(m.GET_APP, AppRef, self.get_app)
        server.register(m.ACTIVATE_APP, AppVersionRef, self.activate_app)
        server.register(m.DELETE_APP_VERSION, AppVersionRef, self.delete_app_version)

    async def register_runtime(self, request: RegisterRuntime) -> RuntimeOut:
        policy.authorize(request.actor, Action.RUNTIME_REGISTER)
        async with self._pool.acquire() as conn, conn.transaction():
            return await registry.register_runtime(conn, request.actor, request)

    async def list_runtimes(self, request: ListRuntimes) -> RuntimeList:
        policy.authorize(request.actor, Action.RUNTIME_READ)
        async with self._pool.acquire() as conn:
            return RuntimeList(runtimes=await registry.list_runtimes(conn))

    async def get_runtime(self, request: RuntimeRef) -> RuntimeOut:
        policy.authorize(request.actor, Action.RUNTIME_READ)
        async with self._pool.acquire() as conn:
            return await registry.get_runtime(conn, request.version)

    async def delete_runtime(self, request: RuntimeRef) -> RuntimeDeleted:
        policy.authorize(request.actor, Action.RUNTIME_DELETE)
        async with self._pool.acquire() as conn, conn.transaction():
            key = await registry.delete_runtime(conn, request.actor, request.version)
        return RuntimeDeleted(s3_key=key)

    async def publish_app(self, request: PublishAppVersion) -> AppVersionOut:
        policy.authorize(request.actor, Action.APP_PUBLISH)
        async with self._pool.acquire() as conn, conn.transaction():
            return await apps.publish_version(conn, request.actor, request)

    async def list_apps(self, request: ListApps) -> AppList:
        policy.authorize(request.actor, Action.APP_READ)
        async with self._pool.acquire() as conn:
            return AppList(apps=await apps.list_apps(conn))

    async def get_app(self, request: AppRef) -> AppOut:
        policy.authorize(request.actor, Action.APP_READ)
        async with self._pool.acquire() as conn:
            return await apps.get_app(conn, request.name)

    async def activate_app(self, request: AppVersionRef) -> AppOut:
        policy.authorize(request.actor, Action.APP_ACTIVATE)
        async with self._pool.acquire() as conn, conn.transaction():
            return await apps.activate_version(conn, request.actor, request.name,
                                               request.version)

    async def delete_app_version(self, request: AppVersionRef) -> AppVersionDeleted:
        policy.authorize(request.actor, Action.APP_DELETE)
        async with self._pool.acquire() as conn, conn.transaction():
            key = await apps.delete_version(conn, request.actor, request.name, request.version)
        return AppVersionDeleted(s3_key=key)
