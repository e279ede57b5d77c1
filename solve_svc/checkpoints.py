"""Checkpoints of an attempt (``ctx.checkpoint`` in the app, a ``checkpoint`` line of the
agent): stored in S3 per attempt (``attempt_key(job, attempt, "checkpoint")``), newest wins,
and the newest of the earlier attempts handed to a re-run as its start solution.

:class:`CheckpointWriter` coalesces: while one upload runs, later checkpoints replace the
waiting one, so an app that reports many improving solutions costs at most one upload in
flight and one waiting; :meth:`CheckpointWriter.close` waits for the last one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog

from common.contracts.jobs import attempt_key
from common.errors import NotFound
from common.storage import S3Storage

log = structlog.get_logger(__name__)


class CheckpointWriter:
    """Stores the checkpoints of attempt ``attempt`` of job ``job_id``, newest last."""

    def __init__(self, storage: S3Storage, job_id: str, attempt: int) -> None:
        self._storage = storage
        self.key = attempt_key(job_id, attempt, "checkpoint")
        self._waiting: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self.stored = 0  # how many were written

    def offer(self, values: dict[str, Any]) -> None:
        """Queue ``values`` to be stored (replacing a checkpoint still waiting)."""
        self._waiting = json.dumps(values).encode()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="checkpoint-writer")

    async def _drain(self) -> None:
        while self._waiting is not None:
            data, self._waiting = self._waiting, None
            try:
                await self._storage.put_bytes(self.key, data)
                self.stored += 1
            except Exception as exc:  # a lost checkpoint only costs a resume: keep running
                log.warning("checkpoint_not_stored", key=self.key, error=repr(exc))

    async def close(self) -> None:
        """Wait until the newest checkpoint is stored (or failed to be)."""
        if self._task is not None:
            await asyncio.shield(self._task)


async def newest_before(storage: S3Storage, job_id: str, attempt: int
                        ) -> tuple[int, bytes] | None:
    """The checkpoint of the latest earlier attempt that stored one, with its attempt
    number; None when none did."""
    for earlier in range(attempt - 1, 0, -1):
        try:
            return earlier, await storage.read_bytes(attempt_key(job_id, earlier, "checkpoint"))
        except NotFound:
            continue
    return None
