"""``async with`` for the clients that open in ``start()`` and close in ``stop()``, and
cutting a service's background tasks when it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Self

import structlog

log = structlog.get_logger(__name__)
CUT_WAIT_S = 30.0  # how long a cancelled task may take to clean up (remove its container)


class StartStop:
    """Base of a client with ``start()``/``stop()``: ``async with client:`` starts it and
    stops it on the way out (also when the block raises)."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def cut(tasks: Iterable[asyncio.Task[Any] | None], wait_s: float | None = None) -> None:
    """Cancel ``tasks`` (None entries ignored) and wait up to ``wait_s`` (CUT_WAIT_S) for
    them to end: a stop must end even when a cleanup hangs. One that does is logged
    (``task_cut_hangs``, with where it waits) and left behind; errors are logged too."""
    alive = [t for t in tasks if t is not None]
    for task in alive:
        task.cancel()
    if not alive:
        return
    done, pending = await asyncio.wait(alive, timeout=CUT_WAIT_S if wait_s is None else wait_s)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.warning("task_ended_with_error", task=task.get_name(), error=repr(task.exception()))
    for task in pending:
        where = [f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}"
                 for f in task.get_stack(limit=20)]
        log.error("task_cut_hangs", task=task.get_name(), waits_in=where)
