"""Per-address rate limit of sign-in attempts at the portal's edge (docs/security.md).

A sliding window per client address: more than ``limit`` attempts within ``window_s`` are
refused with 429 and ``Retry-After`` before any backend or argon2 work. It is per portal
replica (in memory); the per-user lockout that must hold across replicas is backend's
(:mod:`backend_svc.signin`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from aiohttp import web

from common.errors import TooManyRequests

TOO_MANY = "too many sign-in attempts from your address; try again later"
MAX_ADDRESSES = 100_000  # bound the memory a spray of addresses can take


class LoginThrottle:
    def __init__(self, limit: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, address: str) -> None:
        """Count one attempt from ``address``; TooManyRequests when over the limit."""
        now = self._clock()
        hits = self._hits.get(address)
        if hits is None:
            if len(self._hits) >= MAX_ADDRESSES:
                self._forget_idle(now)
            hits = self._hits[address] = deque()
        while hits and hits[0] <= now - self._window_s:
            hits.popleft()
        if len(hits) >= self._limit:
            retry = math.ceil(hits[0] + self._window_s - now)
            raise TooManyRequests(TOO_MANY, code="signin_rate_limited", retry_after_s=retry)
        hits.append(now)

    def _forget_idle(self, now: float) -> None:
        for address in [a for a, h in self._hits.items() if not h or h[-1] <= now - self._window_s]:
            del self._hits[address]


def client_address(request: web.Request) -> str:
    """The peer's address (a proxy in front must be the one to limit by forwarded headers)."""
    return request.remote or "unknown"


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
