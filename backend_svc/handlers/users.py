"""RPC handlers for users and their tokens."""

from __future__ import annotations

import asyncpg

from backend_svc import users
from backend_svc.accounts import Accounts
from backend_svc.passwords import hash_password
from backend_svc.signin import SignIn
from common.contracts.method import implements
from common.contracts.methods import UserMethods
from common.contracts.users import (
    Authenticate,
    ChangePassword,
    CreateUser,
    Empty,
    ListUsers,
    ResetPassword,
    ResolveToken,
    RevokeToken,
    SetDisabled,
    SetRole,
    TokenHolder,
    TokenIssued,
    UserList,
    UserOut,
)
from common.errors import Conflict


class UserHandlers:
    def __init__(self, pool: asyncpg.Pool, *, signin: SignIn, accounts: Accounts):
        self._pool = pool
        self._signin = signin
        self._accounts = accounts

    @implements(UserMethods.CREATE)
    async def create_user(self, request: CreateUser) -> UserOut:
        password_hash = await hash_password(request.password.get_secret_value())  # no conn held
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                return await users.create_user(
                    conn, request.actor, username=request.username,
                    password_hash=password_hash,
                    display_name=request.display_name, role=request.role,
                )
            except Conflict:
                existing = await users.find_user(conn, request.username) if request.if_absent \
                    else None
                if existing is None:
                    raise
                return existing

    @implements(UserMethods.LIST)
    async def list_users(self, request: ListUsers) -> UserList:
        async with self._pool.acquire() as conn:
            found, total = await users.list_users(conn, limit=request.limit, offset=request.offset)
        return UserList(users=found, total=total)

    @implements(UserMethods.SET_ROLE)
    async def set_role(self, request: SetRole) -> UserOut:
        async with self._pool.acquire() as conn, conn.transaction():
            return await users.set_role(conn, request.actor, request.username, request.role)

    @implements(UserMethods.LOGIN)
    async def login(self, request: Authenticate) -> TokenIssued:
        return await self._signin.login(request)

    @implements(UserMethods.RESOLVE_TOKEN)
    async def resolve_token(self, request: ResolveToken) -> TokenHolder:
        async with self._pool.acquire() as conn:
            return await users.resolve_token(conn, request.token.get_secret_value())

    @implements(UserMethods.REVOKE_TOKEN)
    async def revoke_token(self, request: RevokeToken) -> Empty:
        async with self._pool.acquire() as conn, conn.transaction():
            await users.revoke_token(conn, request.token.get_secret_value())
        return Empty()

    @implements(UserMethods.CHANGE_PASSWORD)
    async def change_password(self, request: ChangePassword) -> Empty:
        await self._accounts.change_password(request)
        return Empty()

    @implements(UserMethods.RESET_PASSWORD)
    async def reset_password(self, request: ResetPassword) -> UserOut:
        return await self._accounts.reset_password(request)

    @implements(UserMethods.SET_DISABLED)
    async def set_disabled(self, request: SetDisabled) -> UserOut:
        return await self._accounts.set_disabled(request)
