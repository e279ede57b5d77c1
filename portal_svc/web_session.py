"""Browser sessions: an encrypted cookie holding the API token, and a CSRF token per session.

The cookie is a Fernet token (aiohttp_session's EncryptedCookieStorage), HttpOnly and
SameSite=Lax, Secure when the public URL is https or the request came over https
(:mod:`portal_svc.transport`, applied as the reply is prepared). Every form carries the
session's CSRF token in a hidden field and every form POST is checked against it; scripts that
upload files send it in the ``X-CSRF-Token`` header instead.
"""

from __future__ import annotations

import secrets

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session import Session, get_session, new_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from common.errors import Forbidden
from portal_svc.settings import PortalSettings

log = structlog.get_logger(__name__)
COOKIE_NAME = "modelport_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_KEY = "token"
_CSRF_KEY = "csrf"
_FLASH_KEY = "flash"


def cookie_key(settings: PortalSettings) -> str:
    """The configured Fernet key, or a random one (with a warning) when none is set."""
    key = settings.cookie_secret.get_secret_value()
    if key:
        return key
    log.warning("cookie_secret_generated", hint="set MODELPORT_COOKIE_SECRET to keep sessions")
    return Fernet.generate_key().decode("ascii")


def session_middleware_for(settings: PortalSettings) -> Middleware:
    """aiohttp_session's middleware over the encrypted cookie storage."""
    storage = EncryptedCookieStorage(
        cookie_key(settings),
        cookie_name=COOKIE_NAME,
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
    )
    return session_middleware(storage)


async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token, created on first use."""
    session = await get_session(request)
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


async def check_csrf(request: web.Request) -> dict[str, str]:
    """The POSTed form, once its CSRF field matches the session's; Forbidden otherwise."""
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    session = await get_session(request)
    expected = session.get(_CSRF_KEY)
    if not (isinstance(sent, str) and isinstance(expected, str)
            and secrets.compare_digest(sent, expected)):
        log.info("csrf_rejected")
        raise Forbidden("the form has expired or did not come from this site; reload the page",
                        code="csrf_failed")
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def check_csrf_header(request: web.Request) -> None:
    """Check the ``X-CSRF-Token`` header of a script's request (an upload: its body is a
    stream the form check must not read); Forbidden ``csrf_failed`` when it does not match."""
    sent = request.headers.get(CSRF_HEADER, "")
    expected = (await get_session(request)).get(_CSRF_KEY)
    if not (sent and isinstance(expected, str) and secrets.compare_digest(sent, expected)):
        log.info("csrf_rejected", via="header")
        raise Forbidden("the request did not come from this site's pages; reload the page",
                        code="csrf_failed")


async def flash(request: web.Request, message: str) -> None:
    """Keep ``message`` to show on the next page this session renders."""
    (await get_session(request))[_FLASH_KEY] = message


async def pop_flash(request: web.Request) -> str | None:
    """The message kept by :func:`flash`, once."""
    message = (await get_session(request)).pop(_FLASH_KEY, None)
    return message if isinstance(message, str) else None


async def start_signed_in(request: web.Request, token: str) -> Session:
    """A fresh session (new CSRF token) that holds ``token``."""
    session = await new_session(request)
    session[TOKEN_KEY] = token
    session[_CSRF_KEY] = secrets.token_urlsafe(32)
    return session


async def session_token(request: web.Request) -> str | None:
    """The API token of a signed-in browser session, if any."""
    token = (await get_session(request)).get(TOKEN_KEY)
    return token if isinstance(token, str) else None


async def end_session(request: web.Request) -> None:
    """Forget everything in the session; the cookie is cleared on the response."""
    (await get_session(request)).invalidate()
