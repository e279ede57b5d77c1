"""OpenID Connect sign-in, the portal's half: the authorization-code flow with PKCE.

:meth:`OidcClient.begin` makes a fresh ``state``, ``nonce`` and PKCE verifier (kept in the
browser's encrypted session by the caller) and the provider's authorization URL.
:meth:`OidcClient.finish` checks the ``state`` the provider sent back, exchanges the code (with
the verifier and the client's secret) at the token endpoint and verifies the ID token: its
signature against the provider's JWKS, then ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce``
(authlib's :class:`~authlib.oidc.core.CodeIDToken` on joserfc, authlib's JOSE library). The
discovery document and the JWKS are fetched from the issuer and cached; a token signed with a
key id the cache does not know refetches the JWKS once (key rotation). Every refusal is an
:class:`OidcRefused` naming a machine ``reason`` and a sentence for the user.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

import aiohttp
import structlog
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from portal_svc.settings import PortalSettings

log = structlog.get_logger(__name__)
FLOW_TTL_S = 600  # a sign-in not finished within this is refused (bad_state)
LEEWAY_S = 60  # clock skew allowed on exp/iat
HTTP_TIMEOUT_S = 10
MAX_DOCUMENT_BYTES = 1 << 20
_CLAIM_NAMES = {"iss": "issuer", "aud": "audience", "exp": "expired", "nonce": "nonce",
                "azp": "audience"}


class OidcRefused(Exception):
    """A refused sign-in: ``reason`` for the audit, ``message`` for the user."""

    def __init__(self, reason: str, message: str, *, status: int = 401, detail: str = "",
                 subject: str = ""):
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status
        self.detail, self.subject = detail, subject


@dataclass(frozen=True)
class Pending:
    """What the browser's session keeps between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str
    started: float

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier,
                "started": self.started}

    @classmethod
    def from_dict(cls, data: object) -> Pending | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(str(data["state"]), str(data["nonce"]), str(data["verifier"]),
                       float(data["started"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Claims:
    """The verified ID token's claims the backend needs."""

    issuer: str
    subject: str
    email: str
    name: str
    preferred_username: str
    groups: list[str]


class _Cached:
    def __init__(self) -> None:
        self.value: Any = None
        self.at = 0.0

    def fresh(self, ttl_s: float) -> Any:
        return self.value if self.value is not None and time.monotonic() - self.at < ttl_s \
            else None

    def put(self, value: Any) -> Any:
        self.value, self.at = value, time.monotonic()
        return value


class OidcClient:
    """One configured provider; its HTTP client opens on first use, :meth:`close` closes it."""

    def __init__(self, settings: PortalSettings):
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self._client: aiohttp.ClientSession | None = None
        self._metadata = _Cached()
        self._jwks = _Cached()

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._client is None:  # no proxy from the environment, bounded time
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S), trust_env=False)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def begin(self, redirect_uri: str) -> tuple[str, Pending]:
        """The authorization URL to send the browser to, and what to keep until it returns."""
        meta = await self.metadata()
        pending = Pending(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          secrets.token_urlsafe(48), time.time())
        query = {
            "response_type": "code", "client_id": self.settings.oidc_client_id,
            "redirect_uri": redirect_uri, "scope": self.settings.oidc_scopes,
            "state": pending.state, "nonce": pending.nonce,
            "code_challenge": create_s256_code_challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
        endpoint = str(meta["authorization_endpoint"])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}", pending

    async def finish(self, pending: Pending | None, params: dict[str, str],
                     redirect_uri: str) -> Claims:
        """The verified claims of the provider's answer ``params``; raises OidcRefused."""
        if (pending is None or not secrets.compare_digest(params.get("state", ""), pending.state)
                or time.time() - pending.started > FLOW_TTL_S):
            raise OidcRefused("bad_state", "this sign-in did not start here or has expired; "
                              "please start again", status=400)
        if params.get("error"):
            error = params["error"][:100]
            raise OidcRefused("provider_error", f"the sign-in provider refused: {error}",
                              detail=params.get("error_description", "")[:300])
        if not params.get("code"):
            raise OidcRefused("bad_state", "the sign-in provider sent no code", status=400)
        tokens = await self._exchange(params["code"], pending.verifier, redirect_uri)
        return await self._verify(tokens, pending.nonce)

    async def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier}
        try:
            async with self._http.post(str(meta["token_endpoint"]), data=form,
                                       headers={"Authorization": self._client_auth()}) as resp:
                body = await _json(resp)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _unreachable(exc) from None
        if status != 200 or not isinstance(body.get("id_token"), str):
            error = str(body.get("error", f"HTTP {status}"))[:100]
            raise OidcRefused("code_rejected", "the sign-in provider would not confirm this "
                              "sign-in (its code was used already or has expired); please "
                              "start again", detail=error)
        return body

    def _client_auth(self) -> str:
        """client_secret_basic: id and secret form-encoded, then Basic (RFC 6749, 2.3.1)."""
        pair = (f"{quote_plus(self.settings.oidc_client_id)}:"
                f"{quote_plus(self.settings.oidc_client_secret.get_secret_value())}")
        return "Basic " + base64.b64encode(pair.encode()).decode("ascii")

    async def _verify(self, tokens: dict[str, Any], nonce: str) -> Claims:
        meta = await self.metadata()
        algorithms = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(algorithms=[a for a in algorithms if a != "none"])
        try:
            try:
                token = jwt.decode(tokens["id_token"], await self.keys(), registry=registry)
            except InvalidKeyIdError:  # the provider may have rotated its keys
                token = jwt.decode(tokens["id_token"], await self.keys(refresh=True),
                                   registry=registry)
            claims = CodeIDToken(
                token.claims, token.header,
                {"iss": {"essential": True, "value": self.issuer},
                 "aud": {"essential": True, "value": self.settings.oidc_client_id},
                 "sub": {"essential": True}},
                {"nonce": nonce, "client_id": self.settings.oidc_client_id,
                 "access_token": tokens.get("access_token")})
            claims.validate(leeway=LEEWAY_S)
        except ClaimError as exc:
            raise _bad_token(_CLAIM_NAMES.get(exc.claim, exc.claim)) from None
        except (BadSignatureError, InvalidKeyIdError):
            raise _bad_token("signature") from None
        except (JoseError, ValueError, TypeError) as exc:
            raise _bad_token(type(exc).__name__) from None
        return self._claims(dict(claims))

    def _claims(self, claims: dict[str, Any]) -> Claims:
        groups = claims.get(self.settings.oidc_group_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        return Claims(
            issuer=self.issuer, subject=str(claims["sub"]), email=_text(claims.get("email")),
            name=_text(claims.get("name")),
            preferred_username=_text(claims.get("preferred_username")),
            groups=[str(g)[:200] for g in groups if isinstance(g, str | int)][:200],
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached); its ``issuer`` must be ours."""
        cached = self._metadata.fresh(self.settings.oidc_cache_s)
        if cached is not None:
            return dict(cached)
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = await self._get(url)
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
                   if not isinstance(meta.get(k), str)]
        if meta.get("issuer") != self.issuer or missing:
            log.warning("oidc_discovery_refused", issuer=meta.get("issuer"), missing=missing)
            raise OidcRefused("provider_misconfigured", "the sign-in provider is not set up "
                              "correctly; ask an administrator", status=503)
        return dict(self._metadata.put(meta))

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (cached; ``refresh`` fetches them again)."""
        cached = None if refresh else self._jwks.fresh(self.settings.oidc_cache_s)
        if cached is not None:
            return cached
        meta = await self.metadata()
        try:
            keys = KeySet.import_key_set(await self._get(str(meta["jwks_uri"])))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("oidc_jwks_refused", error=repr(exc))
            raise OidcRefused("provider_misconfigured", "the sign-in provider's keys cannot "
                              "be read; ask an administrator", status=503) from None
        return self._jwks.put(keys)

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with self._http.get(url) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status} from {url}")
                return await _json(resp)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _unreachable(exc) from None


async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    raw = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ValueError("the provider's answer is too large")
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        raise ValueError("the provider's answer is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("the provider's answer is not a JSON object")
    return value


def _text(value: object) -> str:
    return value[:200] if isinstance(value, str) else ""


def _unreachable(exc: BaseException) -> OidcRefused:
    log.warning("oidc_provider_unreachable", error=repr(exc))
    return OidcRefused("provider_unreachable", "the sign-in provider cannot be reached; "
                       "please try again later", status=503, detail=repr(exc)[:300])


def _bad_token(what: str) -> OidcRefused:
    return OidcRefused("bad_token", f"the sign-in provider's answer did not verify ({what}); "
                       "sign-in refused", detail=what)
