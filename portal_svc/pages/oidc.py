"""Sign in with the configured OpenID Connect provider (docs/security.md, "Single sign-on").

``GET /login/oidc`` keeps a fresh state, nonce and PKCE verifier in the browser's encrypted
session and redirects to the provider; ``GET /login/oidc/callback`` takes them back (once),
lets :class:`~portal_svc.oidc.OidcClient` exchange the code and verify the ID token, hands the
verified claims to backend (``auth.oidc``) and starts the web session with the token it
returns, as a password sign-in does. A refusal shows the login page with its reason and is
audited by backend (``auth.oidc_refused``, or ``auth.oidc`` itself for an unknown user).
"""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp_session import get_session

from common.contracts.methods import UserMethods
from common.errors import ModelportError
from portal_svc import web_session
from portal_svc.appkeys import BACKEND, SETTINGS
from portal_svc.oidc import OidcClient, OidcRefused, Pending
from portal_svc.pages.site import HOME_PATH, render_login
from portal_svc.throttle import LOGIN_THROTTLE, client_address

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
START_PATH = "/login/oidc"
CALLBACK_PATH = "/login/oidc/callback"
OIDC = web.AppKey("oidc", OidcClient)
_PENDING_KEY = "oidc_pending"


def setup(app: web.Application) -> None:
    """Serve the two views when a provider is configured (else they are 404)."""
    settings = app[SETTINGS]
    if not settings.oidc_enabled:
        return
    app[OIDC] = OidcClient(settings)
    app.router.add_routes(routes)

    async def close(app: web.Application) -> None:
        await app[OIDC].close()

    app.on_cleanup.append(close)


def redirect_uri(request: web.Request) -> str:
    base = request.app[SETTINGS].public_url or str(request.url.origin())
    return base + CALLBACK_PATH


@routes.get(START_PATH)
async def start(request: web.Request) -> web.StreamResponse:
    request.app[LOGIN_THROTTLE].hit(client_address(request))
    try:
        url, pending = await request.app[OIDC].begin(redirect_uri(request))
    except OidcRefused as exc:
        return await _refused(request, exc)
    (await get_session(request))[_PENDING_KEY] = pending.to_dict()
    raise web.HTTPFound(url)


@routes.get(CALLBACK_PATH)
async def callback(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    request.app[LOGIN_THROTTLE].hit(address)
    session = await get_session(request)
    pending = Pending.from_dict(session.pop(_PENDING_KEY, None))  # one use, whatever happens
    client = request.app[OIDC]
    try:
        claims = await client.finish(pending, dict(request.query), redirect_uri(request))
    except OidcRefused as exc:
        return await _refused(request, exc)
    try:
        issued = await request.app[BACKEND].call(
            UserMethods.OIDC_SIGNIN, issuer=claims.issuer, subject=claims.subject,
            email=claims.email, name=claims.name, preferred_username=claims.preferred_username,
            groups=claims.groups, client_ip=address)
    except ModelportError as exc:
        if exc.status != 403:
            raise
        log.info("oidc_signin_refused", code=exc.code)
        return await render_login(request, exc.message, status=exc.status)
    await web_session.start_signed_in(request, issued.token.get_secret_value())
    log.info("page_login", user_id=issued.user.id, via="oidc")
    raise web.HTTPSeeOther(HOME_PATH)


async def _refused(request: web.Request, exc: OidcRefused) -> web.StreamResponse:
    """The login page with the reason; backend audits the refusal (best effort)."""
    log.info("oidc_signin_refused", reason=exc.reason, detail=exc.detail)
    try:
        await request.app[BACKEND].call(
            UserMethods.OIDC_REFUSED, reason=exc.reason, detail=exc.detail[:500],
            issuer=request.app[OIDC].issuer, subject=exc.subject,
            client_ip=client_address(request))
    except ModelportError as err:
        log.warning("oidc_refusal_not_audited", code=err.code)
    return await render_login(request, exc.message, status=exc.status)
