"""RPC handlers of OpenID Connect sign-in (declared in ``UserMethods``; rule portal_vouched)."""

from __future__ import annotations

from backend_svc.oidc import OidcSignIn
from common.contracts.method import implements
from common.contracts.methods import UserMethods
from common.contracts.oidc import OidcRefusal, VerifiedClaims
from common.contracts.users import Empty, TokenIssued


class OidcHandlers:
    def __init__(self, signin: OidcSignIn):
        self._signin = signin

    @implements(UserMethods.OIDC_SIGNIN)
    async def oidc_signin(self, request: VerifiedClaims) -> TokenIssued:
        return await self._signin.sign_in(request)

    @implements(UserMethods.OIDC_REFUSED)
    async def oidc_refused(self, request: OidcRefusal) -> Empty:
        await self._signin.refused(request)
        return Empty()
