"""A small OpenID Connect provider the tests run on loopback (aiohttp + joserfc).

It serves discovery, JWKS, an authorization endpoint that signs in ``provider.user`` at once
(no login form: the tests drive the relying party, not the provider) and a token endpoint
that checks what a real provider checks: the client's secret, a code used only once, the
redirect URI and the PKCE verifier. ID tokens are RS256, signed with joserfc (authlib's JOSE
library). Knobs make it misbehave for the bad paths: ``tamper`` overrides claims of the next
ID tokens, ``forge_signature`` signs with a key it does not publish (same key id).
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlencode

from aiohttp import BasicAuth, web
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

KID = "test-key-1"


@dataclass
class ProviderUser:
    sub: str = "idp-user-0001"
    email: str = "ada@example.org"
    name: str = "Ada Lovelace"
    preferred_username: str = "ada"
    groups: list[str] = field(default_factory=lambda: ["engineering"])


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    user: ProviderUser


class OidcProvider:
    """``async with OidcProvider(client_id, secret) as idp``: ``idp.issuer`` is its URL."""

    def __init__(self, client_id: str = "modelport", client_secret: str = "s3cret-client"):
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})
        self._forger = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})
        self.user = ProviderUser()
        self.tamper: dict[str, Any] = {}
        self.forge_signature = False
        self.hits: Counter[str] = Counter()
        self.codes_issued: list[str] = []
        self._grants: dict[str, _Grant] = {}
        self._used: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.issuer = ""

    async def __aenter__(self) -> OidcProvider:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.issuer = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _discovery(self, request: web.Request) -> web.Response:
        self.hits["discovery"] += 1
        return web.json_response({
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        })

    async def _jwks(self, request: web.Request) -> web.Response:
        self.hits["jwks"] += 1
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def _authorize(self, request: web.Request) -> web.Response:
        self.hits["authorize"] += 1
        q = request.query
        if (q.get("client_id") != self.client_id or q.get("response_type") != "code"
                or q.get("code_challenge_method") != "S256" or not q.get("code_challenge")
                or "openid" not in q.get("scope", "").split()):
            return web.json_response({"error": "invalid_request"}, status=400)
        code = secrets.token_urlsafe(24)
        self._grants[code] = _Grant(self.client_id, q["redirect_uri"], q.get("nonce", ""),
                                    q["code_challenge"], self.user)
        self.codes_issued.append(code)
        query = urlencode({"code": code, "state": q.get("state", "")})
        raise web.HTTPFound(f"{q['redirect_uri']}?{query}")

    async def _token(self, request: web.Request) -> web.Response:
        self.hits["token"] += 1
        form = await request.post()
        try:
            auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            return _oauth_error("invalid_client", 401)
        if (unquote_plus(auth.login), unquote_plus(auth.password)) != (self.client_id,
                                                                       self.client_secret):
            return _oauth_error("invalid_client", 401)
        code = str(form.get("code", ""))
        grant = self._grants.get(code)
        if grant is None or code in self._used:
            return _oauth_error("invalid_grant")
        self._used.add(code)
        if (form.get("redirect_uri") != grant.redirect_uri or create_s256_code_challenge(
                str(form.get("code_verifier", ""))) != grant.challenge):
            return _oauth_error("invalid_grant")
        access = secrets.token_urlsafe(24)
        return web.json_response({"access_token": access, "token_type": "Bearer",
                                  "expires_in": 300, "id_token": self.id_token(grant)})

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        u = grant.user
        claims = {"iss": self.issuer, "sub": u.sub, "aud": grant.client_id, "iat": now,
                  "exp": now + 300, "nonce": grant.nonce, "email": u.email, "name": u.name,
                  "preferred_username": u.preferred_username, "groups": list(u.groups),
                  **self.tamper}
        key = self._forger if self.forge_signature else self.key
        return jwt.encode({"alg": "RS256", "kid": KID}, claims, key)


def _oauth_error(error: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error}, status=status)
