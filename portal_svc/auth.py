"""Who is calling: the portal authenticates, the backend decides what the caller may do.

API calls carry ``Authorization: Bearer <token>``; browser pages keep the same kind of token in
their encrypted session. Either way the backend resolves the token to a user (answers kept up to
a second, see :mod:`portal_svc.token_cache`), and views pass
the resulting :class:`~common.contracts.base.Principal` as the ``actor`` of their RPC calls.

Errors from the backend arrive as plain ModelportErrors (code and status, not subclasses), so
they are told apart by ``status``. Any 401 becomes the portal's own ``unauthenticated`` answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from common.contracts.base import Principal
from common.contracts.methods import UserMethods
from common.contracts.users import TokenHolder, TokenIssued
from common.errors import ModelportError, Unauthenticated
from portal_svc import scopes
from portal_svc.appkeys import BACKEND
from portal_svc.throttle import LOGIN_THROTTLE, client_address
from portal_svc.token_cache import TOKEN_CACHE

MAX_TOKEN_CHARS = 200
INVALID_TOKEN = "missing, invalid or expired token"
BAD_CREDENTIALS = "wrong username or password"
TOLD_CODES = frozenset({"token_expired", "account_disabled"})
"""Refusals whose code the holder of the token is told; any other 401 is ``unauthenticated``."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the backend's user record (with the token's id and scope),
    the token that proved it, and the token cache's :attr:`~TokenCache.epoch` before it was
    resolved (a live stream asks :meth:`TokenCache.revoked_since` with it)."""

    user: TokenHolder
    token: str
    epoch: int = 0
    address: str = ""  # the client's address, written in the audit log of what it changes

    @property
    def principal(self) -> Principal:
        """The caller as the backend's ``actor``."""
        return self.user.principal.model_copy(update={"client_ip": self.address[:64]})

    @property
    def display_name(self) -> str:
        return self.user.display_name or self.user.username


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def resolve(request: web.Request, token: str | None) -> Caller:
    """The caller owning ``token``, once its scope allows this request (every door passes
    here: :mod:`portal_svc.scopes`).

    Raises BadRequest ``token_in_query`` for a token in the URL; Unauthenticated when the
    token is absent or not valid (``token_expired``, ``account_disabled`` or
    ``unauthenticated``); Forbidden ``insufficient_scope``."""
    scopes.refuse_token_in_query(request)
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated(INVALID_TOKEN)
    cache = request.app[TOKEN_CACHE]
    epoch = cache.epoch
    try:
        user = await cache.resolve(token, _resolve_with(request))
    except ModelportError as exc:
        if exc.status != Unauthenticated.status:
            raise
        if exc.code in TOLD_CODES:
            raise Unauthenticated(exc.message, code=exc.code) from None
        raise Unauthenticated(INVALID_TOKEN) from None
    scopes.check(request, user.scope)
    return Caller(user=user, token=token, epoch=epoch, address=client_address(request))


def _resolve_with(request: web.Request) -> Callable[[str], Awaitable[TokenHolder]]:
    """The backend lookup of a token, for the token cache."""
    async def lookup(token: str) -> TokenHolder:
        return await request.app[BACKEND].call(UserMethods.RESOLVE_TOKEN, token=token)

    return lookup


async def api_caller(request: web.Request) -> Caller:
    """The caller of an API request, from its bearer token; Unauthenticated otherwise."""
    return await resolve(request, bearer_token(request))


async def revoke(request: web.Request, token: str) -> None:
    """Revoke ``token`` (log out); this portal stops accepting it at once, others within
    the token cache's second."""
    request.app[TOKEN_CACHE].forget(token)
    await request.app[BACKEND].call(UserMethods.REVOKE_TOKEN, token=token)
    request.app[TOKEN_CACHE].forget(token)  # a lookup may have finished meanwhile


async def login(request: web.Request, username: str, password: str) -> TokenIssued:
    """A new token for a correct password.

    Raises Unauthenticated with one message whether the user is unknown or the password wrong,
    so the answer does not tell which names exist.
    """
    address = client_address(request)
    request.app[LOGIN_THROTTLE].hit(address)
    try:
        return await request.app[BACKEND].call(
            UserMethods.LOGIN, username=username, password=password,
            client_ip=address)
    except ModelportError as exc:
        if exc.status != Unauthenticated.status:
            raise
        raise Unauthenticated(BAD_CREDENTIALS) from None
