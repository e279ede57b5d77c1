"""JobProgress RPCs of one attempt: in order, at most one per interval, the newest wins."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from common.contracts.jobs import JobProgress

log = structlog.get_logger(__name__)


class ProgressSender:
    """Sends offered progress reports from one background task. A report offered while the
    previous one is in flight or within ``interval_s`` replaces any held one; ``close()``
    sends the held one, so the last report always goes out. ``on_stale`` is called when
    backend says the attempt is no longer current."""

    def __init__(self, send: Callable[[JobProgress], Awaitable[bool]], interval_s: float,
                 on_stale: Callable[[], None]) -> None:
        self._send, self._interval_s, self._on_stale = send, interval_s, on_stale
        self._held: JobProgress | None = None
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="job-progress")

    def offer(self, report: JobProgress) -> None:
        self._held = report
        self._wake.set()

    async def close(self, *, flush: bool = True) -> None:
        """Stop the loop and (with ``flush``) send the report still held, if any."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        held, self._held = self._held, None
        if held is not None and flush:
            await self._deliver(held)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            held, self._held = self._held, None
            if held is not None and await self._deliver(held):
                await asyncio.sleep(self._interval_s)

    async def _deliver(self, report: JobProgress) -> bool:
        try:
            current = await self._send(report)
        except Exception as exc:  # progress is best effort; the job goes on
            log.warning("job_progress_not_sent", error=str(exc))
            return True
        if not current:
            self._on_stale()
        return current
