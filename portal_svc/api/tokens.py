"""``/api/v1/tokens``, signing out everywhere and account changes: personal API tokens and the
account's credentials. All of it needs a ``full`` token (or the browser's session):
:mod:`portal_svc.scopes`. The backend decides who may act on whose (owners; admins)."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import TokenMethods, UserMethods
from common.contracts.tokens import (
    CreateToken,
    ListTokens,
    Revoked,
    TokenCreated,
    TokenList,
    TokenOut,
)
from common.contracts.users import ChangePassword, ResetPassword
from portal_svc import auth
from portal_svc.api.io import json_reply
from portal_svc.api.models import ApiModel, Reply, User
from portal_svc.api.public import public
from portal_svc.api.relay import call_as_caller, relay
from portal_svc.live.revocation import revoked_here
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("tokens",))
CreateTokenRequest = public(CreateToken, ApiModel, name="CreateTokenRequest")
Token = public(TokenOut, Reply, name="Token")
# The secret is handed over in the clear here, once.
NewToken = public(TokenCreated, Reply, name="NewToken", retype={"token": str})
ListTokensQuery = public(ListTokens, ApiModel, name="ListTokensQuery")
TokenPage = public(TokenList, Reply, name="TokenPage")
SignedOut = public(Revoked, Reply, name="SignedOut")
ChangePasswordRequest = public(ChangePassword, ApiModel, name="ChangePasswordRequest")
ResetPasswordRequest = public(ResetPassword, ApiModel, name="ResetPasswordRequest",
                              drop={"username"})
TOKEN = "/api/v1/tokens/{token_id}"


@routes.route("POST", "/api/v1/tokens", summary="Make a personal API token (shown once)",
              request=CreateTokenRequest, response=NewToken, status=201,
              errors=(400, 403, 413))
async def create_token(request: web.Request) -> web.Response:
    made = await call_as_caller(request, TokenMethods.CREATE, body=CreateTokenRequest)
    shown = made.model_dump(exclude={"v"}) | {"token": made.token.get_secret_value()}
    return json_reply(NewToken.model_validate(shown), status=201)


@routes.route("GET", "/api/v1/tokens", summary="Your live personal tokens (admins: "
              "?username= for anyone's)", query=ListTokensQuery, response=TokenPage,
              errors=(400, 403, 404))
async def list_tokens(request: web.Request) -> web.Response:
    return await relay(request, TokenMethods.LIST, TokenPage, query=ListTokensQuery)


@routes.route("DELETE", TOKEN, summary="Revoke a personal token", status=204,
              errors=(403, 404))
async def revoke_token(request: web.Request) -> web.Response:
    revoked = await call_as_caller(request, TokenMethods.REVOKE)
    revoked_here(request, revoked.user_id, [revoked.id], "revoked")
    return web.Response(status=204)


@routes.route("POST", "/api/v1/auth/sign-out-everywhere",
              summary="Revoke every token and browser session of yours", response=SignedOut,
              errors=(403,))
async def sign_out_everywhere(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    done = await call_as_caller(request, TokenMethods.SIGN_OUT_EVERYWHERE)
    revoked_here(request, caller.user.id, None, "sign_out_everywhere")
    return json_reply(SignedOut.of(done))


@routes.route("POST", "/api/v1/me/password", summary="Change your password",
              request=ChangePasswordRequest, status=204, errors=(400, 403, 413, 429))
async def change_password(request: web.Request) -> web.Response:
    await call_as_caller(request, UserMethods.CHANGE_PASSWORD, body=ChangePasswordRequest)
    return web.Response(status=204)


@routes.route("POST", "/api/v1/users/{username}/password",
              summary="Set a user's password and revoke their tokens (admins)",
              request=ResetPasswordRequest, status=204, errors=(400, 403, 404, 413))
async def reset_password(request: web.Request) -> web.Response:
    user = await call_as_caller(request, UserMethods.RESET_PASSWORD, body=ResetPasswordRequest)
    revoked_here(request, user.id, None, "password_reset")
    return web.Response(status=204)


@routes.route("POST", "/api/v1/users/{username}/disable",
              summary="Disable an account: sign-in refused, every token revoked (admins)",
              response=User, errors=(403, 404, 409))
async def disable_user(request: web.Request) -> web.Response:
    user = await call_as_caller(request, UserMethods.SET_DISABLED, disabled=True)
    revoked_here(request, user.id, None, "disabled")
    return json_reply(User.of(user))


@routes.route("POST", "/api/v1/users/{username}/enable", summary="Enable an account (admins)",
              response=User, errors=(403, 404))
async def enable_user(request: web.Request) -> web.Response:
    return await relay(request, UserMethods.SET_DISABLED, User, disabled=False)
