"""One attempt end to end, as backend sees it: JobStarted, the execution, JobFinished.

Rules: a stale attempt (``current`` False on any reply) runs no further and reports nothing;
StopJob ``cancel`` cancels the execution (its ``finally`` removes the container at once) and
reports ``cancelled``; ``interrupt`` sends SIGUSR1 to the agent and the job ends normally,
marked interrupted. When the worker itself stops (the attempt's task is cancelled) the
container is removed and nothing is reported: backend's lease expiry re-queues the job.
When the attempt's Docker host fails (the pool says it is down, or a Docker call failed and
a fresh ping confirms it) the attempt is reported ``failed`` with reason ``host_down`` at
once: backend makes the job ``lost`` and re-queues it, without waiting for the lease.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Literal

import aiodocker
import structlog

from common.backoff import retry
from common.contracts.jobs import JobFinished, JobProgress, JobStarted, RunJob
from common.contracts.methods import WorkerMethods
from common.docker import NoCapacity, container_name
from common.errors import ModelportError, Unavailable
from common.packages import PackageError
from solve_svc.backend import BackendLink
from solve_svc.execution import Env, Execution, Outcome
from solve_svc.joblog import JobLog, store_log
from solve_svc.progress import ProgressSender
from solve_svc.shield import settle

log = structlog.get_logger(__name__)
FINISH_WAIT_S = 120.0  # how long a finished attempt keeps trying to tell backend
# A host shut down gracefully kills its containers (exit 137, as the OOM killer would, or no
# final line) and refuses new work a few seconds before its API goes: an agent killed, or a
# Docker call failed, that way is a host failure (host_down, re-queued), not the app's
# out-of-memory or an infrastructure error. Such an ending waits this long for the host.
KILLED_REASONS = ("oom", "internal")
HOST_GOING_S = 5.0
StopMode = Literal["cancel", "interrupt"]
Ending = StopMode | Literal["stale", "host_down"]


class Attempt:
    """Runs ``job`` once with :meth:`run`; :meth:`stop` applies a StopJob to it."""

    def __init__(self, job: RunJob, env: Env, backend: BackendLink) -> None:
        self.job, self.env, self.backend = job, env, backend
        self.key = (job.job_id, job.attempt)
        self.name = container_name("job", job.job_id, job.attempt)  # its container's
        self._execution: Execution | None = None
        self._inner: asyncio.Task[Outcome] | None = None
        self._stop: Ending | None = None

    @property
    def host(self) -> str | None:
        """The Docker host the attempt was placed on (None before placement)."""
        return None if self._execution is None else self._execution.host

    def stop(self, mode: Ending) -> None:
        """Cancel (kill now), interrupt (keep best), drop (stale: kill, report nothing) or
        give up (host_down: its host failed; reported lost)."""
        if self._stop in ("cancel", "stale"):
            return
        self._stop = mode
        log.info("job_stop", job_id=self.job.job_id, attempt=self.job.attempt, mode=mode)
        if mode == "interrupt":
            if self._execution is not None:
                self._execution.interrupt()
        elif self._inner is not None:
            self._inner.cancel()

    async def run(self) -> None:
        """The whole attempt. Raises CancelledError only when cancelled from outside."""
        job = self.job
        with structlog.contextvars.bound_contextvars(job_id=job.job_id, attempt=job.attempt):
            if not await self._report_started():
                return
            with tempfile.TemporaryDirectory(prefix=f"mp-job-{job.job_id}-",
                                             dir=self.env.settings.work_dir or None) as tmp:
                joblog = JobLog(Path(tmp) / "job.log", self.env.settings.log_max_bytes)
                try:
                    outcome = await self._outcome(Path(tmp), joblog)
                finally:
                    joblog.close()
                if outcome is not None:
                    await settle(self._report_finished(outcome, joblog))

    async def _report_started(self) -> bool:
        job = self.job
        message = JobStarted(worker=self.env.worker, job_id=job.job_id, attempt=job.attempt)
        try:
            current = (await self.backend.send(WorkerMethods.STARTED, message)).current
        except ModelportError as exc:  # backend unreachable: the lease will re-queue it
            log.warning("job_start_not_confirmed", error=exc.message)
            return False
        if not current:
            log.info("job_stale_not_run")
        return current

    async def _outcome(self, tmp: Path, joblog: JobLog) -> Outcome | None:
        """The execution's outcome; None when stale. Re-raises a cancel from outside."""
        progress = ProgressSender(self._send_progress, self.env.settings.progress_interval_s,
                                  lambda: self.stop("stale"))
        self._execution = Execution(self.job, self.env, tmp, joblog, progress)
        if self._stop == "interrupt":
            self._execution.interrupt()
        self._inner = asyncio.create_task(self._execution.run(), name=f"job-{self.job.job_id}")
        if self._stop in ("cancel", "stale"):
            self._inner.cancel()
        try:
            outcome = await self._inner
        except asyncio.CancelledError:
            await settle(progress.close(flush=False))
            if _cancelled_from_outside():
                log.info("job_cut_by_shutdown")
                raise
            if self._stop == "host_down":
                return self._host_lost(joblog)
            return None if self._stop == "stale" else Outcome("cancelled")
        except Exception as exc:
            going_s = 0.0 if isinstance(exc, PackageError) else HOST_GOING_S
            outcome = (self._host_lost(joblog) if await self._host_down(within_s=going_s)
                       else _failure(exc, joblog))
        else:
            if (outcome.outcome == "failed" and outcome.reason in KILLED_REASONS
                    and await self._host_down(within_s=HOST_GOING_S)):
                outcome = self._host_lost(joblog)
        await settle(progress.close())
        return None if self._stop == "stale" else outcome

    async def _host_down(self, *, within_s: float = 0.0) -> bool:
        """True when the attempt was placed and its host is down now (checked afresh), or
        goes down within ``within_s`` (checked every 0.5 s)."""
        if self._stop == "host_down":
            return True
        return self.host is not None and await self.env.pool.goes_down(self.host, within_s)

    def _host_lost(self, joblog: JobLog) -> Outcome:
        log.warning("job_host_lost", host=self.host)
        joblog.write("solve", f"Docker host {self.host} failed during this attempt; the job "
                     "is re-queued to run on another host")
        return Outcome("failed", "host_down")

    async def _send_progress(self, message: JobProgress) -> bool:
        return (await self.backend.send(WorkerMethods.PROGRESS, message)).current

    async def _report_finished(self, outcome: Outcome, joblog: JobLog) -> None:
        job = self.job
        stored = outcome.log if outcome.log is not None and outcome.log.still_whole(joblog) \
            else await store_log(self.env.storage, job.job_id, job.attempt, joblog)
        message = JobFinished(
            worker=self.env.worker, job_id=job.job_id, attempt=job.attempt,
            outcome=outcome.outcome,
            reason=outcome.reason, interrupted=outcome.interrupted,
            output_case=outcome.output_case, log=None if stored is None else stored.ref,
            lineage=outcome.lineage)
        log.info("job_finished", outcome=outcome.outcome, reason=outcome.reason,
                 interrupted=outcome.interrupted)
        # Retried while backend, its database or the broker is down (the heartbeats keep the
        # lease meanwhile): a result dropped after a few quick tries made the job run again.
        try:
            await retry(lambda: self.backend.send(WorkerMethods.FINISHED, message),
                        what="job_finished", deadline_s=FINISH_WAIT_S, retry_on=(Unavailable,),
                        base_s=0.2, cap_s=5.0)
        except ModelportError as exc:
            log.warning("job_finished_not_sent", error=exc.message, code=exc.code)


def _cancelled_from_outside() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _failure(exc: Exception, joblog: JobLog) -> Outcome:
    """A failure of the platform's side (not the app's): a machine reason, detail in logs."""
    while isinstance(exc, ExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, PackageError):
        reason = "bad_app"
    elif isinstance(exc, NoCapacity | aiodocker.DockerError | OSError | ModelportError):
        reason = "infrastructure"
    else:
        reason = "internal"
    log.warning("job_failed_on_worker", reason=reason, error=repr(exc), exc_info=exc)
    joblog.write("solve", f"the platform could not run this job: {type(exc).__name__}")
    return Outcome("failed", reason)

