"""RPC handlers for personal API tokens and "sign out everywhere"."""

from __future__ import annotations

import asyncpg

from backend_svc import tokens
from backend_svc.settings import BackendSettings
from common.contracts.method import implements
from common.contracts.tokens import (
    CreateToken,
    ListTokens,
    Revoked,
    RevokeTokenId,
    SignOutEverywhere,
    TokenCreated,
    TokenList,
    TokenMethods,
    TokenOut,
)


class TokenHandlers:
    def __init__(self, pool: asyncpg.Pool, settings: BackendSettings):
        self._pool = pool
        self._settings = settings

    @implements(TokenMethods.CREATE)
    async def create(self, request: CreateToken) -> TokenCreated:
        ttl = tokens.lifetime(request, default_days=self._settings.api_token_default_days,
                              max_days=self._settings.api_token_max_days)
        async with self._pool.acquire() as conn, conn.transaction():
            return await tokens.create(conn, request.actor, request, ttl)

    @implements(TokenMethods.LIST)
    async def list(self, request: ListTokens) -> TokenList:
        async with self._pool.acquire() as conn:
            return TokenList(tokens=await tokens.list_live(conn, request.actor, request.username))

    @implements(TokenMethods.REVOKE)
    async def revoke(self, request: RevokeTokenId) -> TokenOut:
        async with self._pool.acquire() as conn, conn.transaction():
            return await tokens.revoke(conn, request.actor, request.token_id)

    @implements(TokenMethods.SIGN_OUT_EVERYWHERE)
    async def sign_out_everywhere(self, request: SignOutEverywhere) -> Revoked:
        async with self._pool.acquire() as conn, conn.transaction():
            count = await tokens.revoke_all(conn, request.actor, request.actor.user_id or "",
                                            reason="sign_out_everywhere")
        return Revoked(revoked=count)
