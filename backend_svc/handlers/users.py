"""RPC handlers for users and their tokens."""

from __future__ import annotations

import asyncpg

from backend_svc import policy, users
from backend_svc.policy import Action
from backend_svc.signin import SignIn
from common.amqp.rpc import RpcServer
from common.contracts.users import (
    Authenticate,
    CreateUser,
    Empty,
    ListUsers,
    Methods,
    ResolveToken,
    RevokeToken,
    TokenIssued,
    UserList,
    UserOut,
)
from common.errors import Conflict


class UserHandlers:
    def __init__(self, pool: asyncpg.Pool, *, signin: SignIn):
        self._pool = pool
        self._signin = signin

    def register(self, server: RpcServer) -> None:
        server.register(Methods.CREATE_USER, CreateUser, self.create_user)
        server.register(Methods.LIST_USERS, ListUsers, self.list_users)
        server.register(Methods.LOGIN, Authenticate, self.login)
        server.register(Methods.RESOLVE_TOKEN, ResolveToken, self.resolve_token)
        server.register(Methods.REVOKE_TOKEN, RevokeToken, self.revoke_token)

    async def create_user(self, request: CreateUser) -> UserOut:
        policy.authorize(request.actor, Action.USER_CREATE)
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                return await users.create_user(
                    conn, request.actor, username=request.username,
                    password=request.password.get_secret_value(),
                    display_name=request.display_name, is_admin=request.is_admin,
                )
            except Conflict:
                existing = await users.find_user(conn, request.username) if request.if_absent \
                    else None
                if existing is None:
                    raise
                return existing

    async def list_users(self, request: ListUsers) -> UserList:
        policy.authorize(request.actor, Action.USER_LIST)
        async with self._pool.acquire() as conn:
            found, total = await users.list_users(conn, limit=request.limit, offset=request.offset)
        return UserList(users=found, total=total)

    async def login(self, request: Authenticate) -> TokenIssued:
        return await self._signin.login(request)

    async def resolve_token(self, request: ResolveToken) -> UserOut:
        async with self._pool.acquire() as conn:
            return await users.resolve_token(conn, request.token.get_secret_value())

    async def revoke_token(self, request: RevokeToken) -> Empty:
        async with self._pool.acquire() as conn, conn.transaction():
            await users.revoke_token(conn, request.token.get_secret_value())
        return Empty()
