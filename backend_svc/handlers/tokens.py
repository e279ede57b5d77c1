"""RPC handlers for personal API tokens and "sign out everywhere"."""

from __future__ import annotations

import asyncpg

from backend_svc import tokens
from backend_svc.handlers.base import PoolHandlers
from backend_svc.settings import BackendSettings
from common.contracts.method import implements
from common.contracts.methods import TokenMethods
from common.contracts.tokens import (
    CreateToken,
    ListTokens,
    Revoked,
    RevokeTokenId,
    SignOutEverywhere,
    TokenCreated,
    TokenList,
    TokenOut,
)


class TokenHandlers(PoolHandlers):
    def __init__(self, pool: asyncpg.Pool, settings: BackendSettings):
        super().__init__(pool)
        self._settings = settings

    @implements(TokenMethods.CREATE)
    async def create(self, request: CreateToken) -> TokenCreated:
        ttl = tokens.lifetime(request, default_days=self._settings.api_token_default_days,
                              max_days=self._settings.api_token_max_days)
        return await self._write(tokens.create, request.actor, request, ttl)

    @implements(TokenMethods.LIST)
    async def list(self, request: ListTokens) -> TokenList:
        return TokenList(tokens=await self._read(tokens.list_live, request.actor,
                                                 request.username))

    @implements(TokenMethods.REVOKE)
    async def revoke(self, request: RevokeTokenId) -> TokenOut:
        return await self._write(tokens.revoke, request.actor, request.token_id)

    @implements(TokenMethods.SIGN_OUT_EVERYWHERE)
    async def sign_out_everywhere(self, request: SignOutEverywhere) -> Revoked:
        count = await self._write(tokens.revoke_all, request.actor, request.actor.user_id or "",
                                  reason="sign_out_everywhere")
        return Revoked(revoked=count)
