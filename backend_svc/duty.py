"""A background loop that runs one exclusive duty (scheduler, reaper) on one replica.

The leader holds an advisory lock on a dedicated connection (:class:`AdvisoryLease`) and runs
``step`` whenever woken (in-process :meth:`wake`, or a NOTIFY on ``channel``) and at least
every ``interval_s``. A database error drops the connection (and so the lock) and retries
with back-off; any other error in ``step`` is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from backend_svc import db
from backend_svc.leadership import AdvisoryLease
from common.backoff import delays

log = structlog.get_logger(__name__)


class ExclusiveDuty:
    def __init__(
        self, name: str, dsn: str, lock_key: int, step: Callable[[], Awaitable[object]], *,
        interval_s: float, channel: str | None = None,
    ):
        self.name = name
        self._dsn = dsn
        self._lock_key = lock_key
        self._step = step
        self._interval_s = interval_s
        self._channel = channel
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.leading = False
        self.steps = 0
        self._connected = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the step in progress finish, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = delays(base_s=0.2, cap_s=5.0)
        while not self._stopping.is_set():
            self._connected = False
            try:
                await self._lead()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("duty_db_error", duty=self.name, error=str(exc))
                if self._connected:  # a fresh outage starts its back-off from the bottom
                    backoff = delays(base_s=0.2, cap_s=5.0)
                # Only a stop cuts the back-off short: a wake (NOTIFY, commit) must not turn
                # a database outage into a busy loop of failing connects.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), next(backoff))

    async def _lead(self) -> None:
        conn = await db.connect(self._dsn)
        self._connected = True
        lease = AdvisoryLease(conn, self._lock_key)
        try:
            if self._channel:
                await conn.add_listener(self._channel, self.wake)
            while not self._stopping.is_set():
                self._wake.clear()
                was_leading, self.leading = self.leading, await lease.try_acquire()
                if self.leading and not was_leading:
                    log.info("duty_leading", duty=self.name)
                if self.leading:
                    await self._guarded_step()
                await self._sleep(self._interval_s)
        finally:
            self.leading = False
            with contextlib.suppress(Exception):
                await lease.release()
            await conn.close()

    async def _guarded_step(self) -> None:
        try:
            await self._step()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            raise
        except Exception:
            log.exception("duty_step_failed", duty=self.name)
        self.steps += 1

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
