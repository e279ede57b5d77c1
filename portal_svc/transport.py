"""Whether a request reached the portal over https, and what follows from it: the session
cookie gets ``Secure`` and the reply ``Strict-Transport-Security``.

A request is https when its own connection is TLS, or when it comes from a trusted reverse
proxy (``MODELPORT_TRUSTED_PROXIES``) whose ``X-Forwarded-Proto`` says ``https``. From anyone
else the header is ignored (a client could send it). ``PUBLIC_URL`` in https marks the cookie
``Secure`` always.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property

from aiohttp import web

from portal_svc.settings import PortalSettings

FORWARDED_PROTO = "X-Forwarded-Proto"


class Transport:
    def __init__(self, settings: PortalSettings):
        self._settings = settings

    @cached_property
    def _proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p, strict=False) for p in self._settings.trusted_proxies]

    def is_https(self, request: web.Request) -> bool:
        if request.secure:  # TLS on this very connection
            return True
        proto = request.headers.get(FORWARDED_PROTO, "").split(",")[0].strip().lower()
        return proto == "https" and self._trusted(request.remote)

    def _trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def secure_reply(self, request: web.Request, response: web.StreamResponse,
                     cookie_name: str) -> None:
        """``on_response_prepare``: over https, mark the session cookie Secure and add HSTS."""
        if not (self._settings.secure_cookies or self.is_https(request)):
            return
        morsel = response.cookies.get(cookie_name)
        if morsel is not None:
            morsel["secure"] = True
        _secure_header(response, cookie_name)
        if self.is_https(request) and self._settings.hsts_max_age_s:
            response.headers["Strict-Transport-Security"] = \
                f"max-age={self._settings.hsts_max_age_s}"


def _secure_header(response: web.StreamResponse, cookie_name: str) -> None:
    """Mark the cookie Secure where it is already a header (aiohttp_session writes it so on
    a raised HTTPException, such as the redirect after signing in)."""
    cookies = response.headers.getall("Set-Cookie", [])
    if not any(c.startswith(cookie_name + "=") and "; Secure" not in c for c in cookies):
        return
    del response.headers["Set-Cookie"]
    for cookie in cookies:
        secure = cookie.startswith(cookie_name + "=") and "; Secure" not in cookie
        response.headers.add("Set-Cookie", cookie + "; Secure" if secure else cookie)


TRANSPORT = web.AppKey("transport", Transport)
