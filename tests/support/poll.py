"""The one poll helper of the tests: wait for a condition, bounded in time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any


async def until(check: Callable[[], bool | Awaitable[bool]], timeout_s: float = 10.0, *,
                interval_s: float = 0.05, what: str = "the condition") -> None:
    """Call ``check`` (sync or async) every ``interval_s`` until it is true; fail the test
    with ``what`` when ``timeout_s`` passes first."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        assert loop.time() < end, f"{what} was not met within {timeout_s} s"
        await asyncio.sleep(interval_s)


async def until_equal(read: Callable[[], Awaitable[Any]], wanted: Any,
                      timeout_s: float = 10.0, *, interval_s: float = 0.05) -> None:
    """Poll ``read`` until it answers ``wanted``; the failure shows the last answer."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while (got := await read()) != wanted:
        assert loop.time() < end, f"still {got!r}, not {wanted!r} after {timeout_s} s"
        await asyncio.sleep(interval_s)
