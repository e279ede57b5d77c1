"""A solve worker's heartbeat outlives a beat that fails unexpectedly (an error that is not
a ModelportError: a bug, an error applying the reply): it reports again at the next
interval instead of ending, which would let every lease it holds lapse and leave the
scheduler without its capacity."""

from __future__ import annotations

import asyncio
from typing import Any

from common.contracts.jobs import WorkerReportReply
from solve_svc.worker import Worker


class StandInPool:
    """What the heartbeat asks of the host pool: no hosts."""

    def states(self) -> list[Any]:
        return []

    def loads(self) -> list[Any]:
        return []

    def on_health(self, listener: Any) -> None:
        pass

    def set_admin_drained(self, names: Any) -> None:
        pass


class FlakyBackend:
    """Raises an unexpected error on the first report, answers the next ones."""

    def __init__(self) -> None:
        self.calls = 0
        self.answered = asyncio.Event()

    async def send(self, method: Any, message: Any) -> WorkerReportReply:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("something unforeseen")
        self.answered.set()
        return WorkerReportReply(stop=[], reclaim=[], drained=[])


async def test_a_beat_that_raises_does_not_end_the_heartbeat() -> None:
    env = type("Env", (), {"worker": "w1", "pool": StandInPool(), "warm": {}})()
    backend = FlakyBackend()
    worker = Worker(env, backend, report_interval_s=0.05)  # type: ignore[arg-type]
    worker.start()
    try:
        await asyncio.wait_for(backend.answered.wait(), 5)
        assert worker._heartbeat is not None and not worker._heartbeat.done()
    finally:
        await worker.close(0.1)
    assert backend.calls >= 2
