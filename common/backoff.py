"""The one back-off helper: exponential with full jitter, bounded by a deadline.

Use it only for transient I/O (connection refused, 5xx). Validation errors and 4xx must
surface at once: pass ``retry_on`` narrowly.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")


def delays(base_s: float = 0.1, cap_s: float = 5.0) -> Iterator[float]:
    """Endless full-jitter delays: uniform(0, min(cap, base * 2**n))."""
    ceiling = min(cap_s, base_s)
    while True:
        yield random.uniform(0, ceiling)
        ceiling = min(cap_s, ceiling * 2)  # stops growing at the cap: no float overflow


async def retry(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    deadline_s: float,
    retry_on: tuple[type[BaseException], ...] = (OSError, ConnectionError),
    retry_if: Callable[[BaseException], bool] | None = None,
    base_s: float = 0.1,
    cap_s: float = 5.0,
) -> T:
    """Await ``call()`` until it succeeds; retry ``retry_on`` errors until ``deadline_s``.

    Returns the call's result. Raises the last error once the deadline has passed, and any
    error outside ``retry_on`` (or one that ``retry_if`` rejects) at once.
    """
    give_up_at = time.monotonic() + deadline_s
    for attempt, delay in enumerate(delays(base_s, cap_s), start=1):
        try:
            return await call()
        except retry_on as exc:
            if retry_if is not None and not retry_if(exc):
                raise
            left = give_up_at - time.monotonic()
            if left <= 0:
                log.error("retry_gave_up", what=what, attempts=attempt, error=str(exc))
                raise
            log.warning("retrying", what=what, attempt=attempt, error=str(exc))
            await asyncio.sleep(min(delay, left))
    raise AssertionError("unreachable")

