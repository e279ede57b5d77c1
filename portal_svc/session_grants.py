"""Grants: signed, expiring capabilities that let a browser reach one data session.

A session's pages are served under a CSP sandbox without ``allow-same-origin``: they run in an
opaque origin, so the portal's cookie (SameSite=Lax) never reaches the proxy on their
requests, and must not (docs/sessions.md). Instead the proxy redirects the signed-in owner's
first navigation to ``/s/{id}/k/{grant}/``; the pages' relative URLs keep the grant, and the
proxy checks it on every request. A grant names the session and the user, expires, and is
useless for anything but that session's proxy. It also carries the sign-in token it was issued
for, encrypted with a key derived from the same secret: the proxy resolves that token on every
request and tracks the WebSocket under it, so signing out (here or everywhere) or a disabled
account ends the grant and closes its sockets (docs/security.md, "Revocation").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from common.contracts.base import Principal

GRANT_TTL_S = 12 * 3600


@dataclass(frozen=True)
class Grant:
    session_id: str
    principal: Principal
    expires: int
    token: str  # the sign-in token the grant was issued for


class Grants:
    """Signs and checks grants with ``key`` (random per portal when none is configured)."""

    def __init__(self, secret: str = "", ttl_s: int = GRANT_TTL_S) -> None:
        seed = secret.encode() if secret else secrets.token_bytes(32)
        self._key = hashlib.sha256(b"modelport session grant\0" + seed).digest()
        self._sealer = Fernet(base64.urlsafe_b64encode(
            hashlib.sha256(b"modelport grant token\0" + seed).digest()))
        self._ttl_s = ttl_s

    def issue(self, session_id: str, principal: Principal, token: str) -> str:
        body = {"s": session_id, "u": principal.user_id, "n": principal.username,
                "a": principal.is_admin, "e": int(time.time()) + self._ttl_s,
                "t": self._sealer.encrypt(token.encode()).decode()}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def check(self, token: str, session_id: str) -> Grant | None:
        """The grant when ``token`` is genuine, unexpired and for ``session_id``; else None."""
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if body.get("s") != session_id or int(body.get("e", 0)) < time.time():
            return None
        try:
            token = self._sealer.decrypt(str(body.get("t", "")).encode()).decode()
        except InvalidToken:
            return None
        principal = Principal(user_id=body["u"], username=body["n"], is_admin=bool(body["a"]))
        return Grant(session_id, principal, int(body["e"]), token)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:20])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
