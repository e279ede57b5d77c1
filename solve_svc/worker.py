"""The attempts a solve worker holds: RunJob/StopJob from its own queue, the heartbeat.

RunJob is acked once its attempt is started here (not when it ends): a worker that dies
leaves the attempt to backend's lease expiry, which re-queues it elsewhere, instead of
having the broker hand it back to a queue nobody reads any more.
"""

from __future__ import annotations

import asyncio

import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from common.contracts.jobs import RunJob, StopJob, WorkerReport
from common.contracts.methods import WorkerMethods
from common.errors import ModelportError
from common.lifecycle import cut
from solve_svc.backend import BackendLink
from solve_svc.execution import Env
from solve_svc.reclaim import Reclaimer
from solve_svc.runner import Attempt

log = structlog.get_logger(__name__)
Key = tuple[str, int]


class Worker:
    """Runs attempts as tasks; :meth:`handle` is the consumer's message handler."""

    def __init__(self, env: Env, backend: BackendLink, report_interval_s: float,
                 reclaimer: Reclaimer | None = None) -> None:
        self.env, self.backend, self._interval_s = env, backend, report_interval_s
        self._reclaimer = reclaimer
        self.attempts: dict[Key, Attempt] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._sweeps: set[asyncio.Task[None]] = set()
        self._retired = False

    def start(self) -> None:
        self._heartbeat = asyncio.create_task(self._beat(), name="solve-heartbeat")
        self.env.pool.on_health(self._host_health)

    def _host_health(self, host: str, healthy: bool) -> None:
        """A host went down: give up the attempts placed there now (reported lost, re-run
        elsewhere). It came back: remove what this worker left there (its containers of the
        lost attempts, stopped when the engine restarted)."""
        if not healthy:
            for attempt in list(self.attempts.values()):
                if attempt.host == host:
                    attempt.stop("host_down")
            warm = self.env.warm.get(host)
            if warm is not None:
                warm.forget_idle()
        elif self._reclaimer is not None:
            task = asyncio.create_task(self._sweep_returned(host), name=f"sweep-{host}")
            self._sweeps.add(task)
            task.add_done_callback(self._sweeps.discard)

    async def _sweep_returned(self, host: str) -> None:
        assert self._reclaimer is not None
        keep = {attempt.name for attempt in self.attempts.values()}
        await self._reclaimer.sweep_own(host, keep=keep)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Dispatch one RunJob or StopJob; anything else is logged and dropped."""
        try:
            if message.type == RunJob.TYPE:
                self.run(RunJob.model_validate_json(message.body))
            elif message.type == StopJob.TYPE:
                self.stop(StopJob.model_validate_json(message.body))
            else:
                log.warning("solve_message_unknown", type=message.type)
        except ValidationError as exc:  # a bad message cannot get better by retrying
            log.warning("solve_message_invalid", type=message.type, error=str(exc))

    def run(self, job: RunJob) -> None:
        """Start the attempt unless it runs here already (a redelivered RunJob)."""
        key = (job.job_id, job.attempt)
        if key in self.attempts:
            log.info("job_already_running", job_id=job.job_id, attempt=job.attempt)
            return
        attempt = Attempt(job, self.env, self.backend)
        self.attempts[key] = attempt
        task = asyncio.create_task(attempt.run(), name=f"attempt-{job.job_id}-{job.attempt}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._done(key, t))

    def stop(self, command: StopJob) -> None:
        attempt = self.attempts.get((command.job_id, command.attempt))
        if attempt is None:
            log.info("job_stop_unknown", job_id=command.job_id, attempt=command.attempt)
            return
        attempt.stop(command.mode)

    def _done(self, key: Key, task: asyncio.Task[None]) -> None:
        self.attempts.pop(key, None)
        self._tasks.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("attempt_crashed", job_id=key[0], attempt=key[1],
                      exc_info=task.exception())

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for every attempt to end; True when none is left."""
        tasks = set(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        return not self._tasks

    async def close(self, grace_s: float) -> None:
        """Let attempts finish within ``grace_s``, cut the rest (containers removed, nothing
        reported), then stop the heartbeat."""
        if not await self.wait_idle(grace_s):
            log.warning("attempts_cut", count=len(self._tasks))
            await cut(list(self._tasks.values()))
        await cut([self._heartbeat, *self._sweeps])

    async def retire(self, timeout_s: float = 2.0) -> None:
        """Report no capacity from now on, so backend's scheduler stops placing jobs here
        while this worker drains (else it would until the report went stale, and those jobs
        would wait for their leases to lapse). Leases of held attempts are still renewed."""
        self._retired = True
        try:
            async with asyncio.timeout(timeout_s):
                await self.beat_once()
        except TimeoutError:
            log.warning("worker_retire_not_sent", error="no reply in time")

    def report(self) -> WorkerReport:
        """Capacity from the host pool (healthy, not drained hosts; none once retired) and
        the attempts held."""
        healthy = [s for s in self.env.pool.states()
                   if s.healthy and not s.drained and not self._retired]
        return WorkerReport(
            worker=self.env.worker, slots_total=sum(s.slots for s in healthy),
            slots_free=sum(max(s.free_slots, 0) for s in healthy),
            running=sorted(self.attempts), hosts=self.env.pool.loads())

    async def _beat(self) -> None:
        while True:
            try:
                await self.beat_once()
            except Exception as exc:  # one failed beat must not end them: the leases would lapse
                log.warning("worker_report_failed", error=repr(exc), exc_info=exc)
            await asyncio.sleep(self._interval_s)

    async def beat_once(self) -> None:
        """Send one WorkerReport (with the other workers' containers seen on our hosts and
        their load), apply the stops backend answers with and the hosts an admin drained, and
        remove the orphans it names."""
        foreign = await self._reclaimer.foreign() if self._reclaimer is not None else []
        report = self.report().model_copy(update={"foreign": foreign[:1000]})
        try:
            reply = await self.backend.send(WorkerMethods.REPORT, report)
        except ModelportError as exc:
            log.warning("worker_report_not_sent", error=exc.message)
            return
        self.env.pool.set_admin_drained(reply.drained)
        for command in reply.stop:
            self.stop(command)
        if self._reclaimer is not None and reply.reclaim:
            await self._reclaimer.reclaim(reply.reclaim)
