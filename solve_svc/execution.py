"""One attempt's work on a Docker host: place it, load the image, get a container, put the
app and input in, run the agent, read its outcome, copy the result out.

Everything that is not about talking to backend lives here; :mod:`solve_svc.runner` wraps
it with the started/finished reports, cancel and the shutdown rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import structlog

from common.backoff import retry
from common.contracts.jobs import BlobRef, JobProgress, RunJob, attempt_key
from common.docker import (
    Container,
    DockerHost,
    HostPool,
    Limits,
    Need,
    Reservation,
    WarmPool,
    container_name,
    ensure_image,
    kill,
    put_archive,
    remove,
)
from common.docker.spec import Kind
from common.docker.workdir import APP_DIR
from common.errors import StorageUnavailable
from common.packages import PlatformPrivateKey, TrustedKeys
from common.storage import S3Storage
from modelport.agent.protocol import (
    CheckpointEvent,
    ErrorEvent,
    LogEvent,
    ProgressEvent,
    ResultEvent,
    StartedEvent,
    parse_line,
)
from solve_svc.agent_exec import AgentExec, AgentServe, Stream, signal_process
from solve_svc.checkpoints import CheckpointWriter, newest_before
from solve_svc.files import (
    INPUT_FILE,
    OUTPUT_FILE,
    START_FILE,
    BadResult,
    copy_out,
    prepare_inputs,
)
from solve_svc.joblog import JobLog, StoredLog, file_chunks, store_log
from solve_svc.reclaim import owner_of
from solve_svc.serve_files import BadTransfer, ResultReceiver
from solve_svc.settings import SolveSettings
from solve_svc.shield import settle

log = structlog.get_logger(__name__)
SERVICE_KIND: Kind = "job"
T = TypeVar("T")
# How long a job waits for room on a host: after a worker dies its containers hold their
# slots until a live worker reclaims them (about a lease TTL), and failing the job meanwhile
# would lose it.
ROOM_WAIT_S = 45.0
OOM_EXIT = 137  # SIGKILL: nobody but the kernel's OOM killer sends it unless we did


@dataclass
class Env:
    """What every attempt of a worker shares."""

    worker: str
    pool: HostPool
    warm: dict[str, WarmPool]  # by host name
    storage: S3Storage
    platform_key: PlatformPrivateKey
    settings: SolveSettings
    max_case_bytes: int = 512 * 1024 * 1024
    trusted_keys: TrustedKeys = field(default_factory=TrustedKeys)  # verify runtimes to load

    @property
    def owner(self) -> str:
        """The OWNER label of this worker's containers."""
        return owner_of(self.worker)


@dataclass
class Outcome:
    outcome: Literal["succeeded", "failed", "cancelled"]
    reason: str | None = None
    interrupted: bool = False
    output_case: BlobRef | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    log: StoredLog | None = None  # stored with the result, to be reused if still whole


class Execution:
    """Runs ``job`` once; :meth:`run` returns its Outcome (cancel it to kill the container)."""

    def __init__(self, job: RunJob, env: Env, tmp: Path, joblog: JobLog,
                 progress: Any) -> None:
        self.job, self.env, self.tmp, self.joblog, self._progress = job, env, tmp, joblog, progress
        self.name = container_name(SERVICE_KIND, job.job_id, job.attempt)
        self.container: Container | None = None
        self.host: str | None = None  # the Docker host it was placed on
        self._pid: int | None = None
        self._interrupt_wanted = False
        self._result: ResultEvent | None = None
        self._error: ErrorEvent | None = None
        self._timed_out = False
        self._signals: set[asyncio.Task[None]] = set()
        self._steps: dict[str, float] = {}  # step -> ms, logged once per attempt
        self._checkpoints = CheckpointWriter(env.storage, job.job_id, job.attempt)
        self._resumed = False  # a checkpoint of an earlier attempt is in /work
        self._bad_transfer = False  # the result's bytes on stdout were refused
        self._transfer_ms: dict[str, float] = {}  # send / receive of serve protocol 2

    async def run(self) -> Outcome:
        began = time.perf_counter()
        try:
            return await self._run()
        finally:
            await settle(self._checkpoints.close())
            await settle(self._recount())
            self._steps["total"] = (time.perf_counter() - began) * 1000
            log.info("job_steps", **{k: round(v, 1) for k, v in self._steps.items()})

    @contextlib.contextmanager
    def _step(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self._steps[name] = (time.perf_counter() - began) * 1000

    async def _recount(self) -> None:
        """The pool's count of containers on a host is refreshed every health_interval_s and
        still lists the one just removed: the slot would look taken (NoCapacity for the next
        job backend sends) until then. Recount now."""
        try:
            await self.env.pool.refresh()
        except Exception as exc:  # the health loop recounts later anyway
            log.warning("docker_recount_failed", error=str(exc))

    async def _run(self) -> Outcome:
        need = Need(memory_mb=self.job.memory_mb)
        with await self._room(need) as reservation:
            self.host = reservation.host.name
            # the app's download and decryption overlap the image check and container start
            work_tar = asyncio.create_task(
                self._timed("inputs", self._storage("inputs", self._inputs)))
            try:
                container = await self._timed("container", self._placed(reservation.host))
            except BaseException:
                await settle(_discard(work_tar))
                raise
            removal: asyncio.Task[None] | None = None
            stored_log: asyncio.Task[StoredLog | None] | None = None
            try:
                tar = await work_tar
                inline = container.serving and container.serve_protocol >= 2
                if not inline:  # else the tar follows the run request on the agent's stdin
                    with self._step("put_archive"):
                        await put_archive(container, file_chunks(tar))
                with self._step("agent"):
                    exit_code = await self._run_agent(container, tar if inline else None)
                self._split_agent_step()
                outcome = self._verdict(exit_code)
                if outcome is not None:
                    return outcome
                if inline:  # already received with the result line
                    local = self.tmp / OUTPUT_FILE
                else:
                    with self._step("copy_out"):
                        local = await self._copy_result(container)
                # the container is done with: remove it while the result and the log (whole
                # unless a failure from here on adds to it) are stored
                removal = asyncio.create_task(self._timed("remove", remove(container)))
                stored_log = asyncio.create_task(self._timed("log", store_log(
                    self.env.storage, self.job.job_id, self.job.attempt, self.joblog)))
                outcome = await self._timed(
                    "store", self._storage("store", lambda: self._store(local)))
                outcome.log = await stored_log
                return outcome
            finally:
                if stored_log is not None:
                    await settle(_discard(stored_log))
                await settle(removal if removal is not None
                             else self._timed("remove", remove(container)))

    async def _room(self, need: Need) -> Reservation:
        """Room on a host; when none looks free, recount the hosts and wait for room up to
        ROOM_WAIT_S (raises NoCapacity after)."""
        return await self.env.pool.wait_reserve(self.name, need, wait_s=ROOM_WAIT_S)

    async def _timed(self, name: str, work: Awaitable[T]) -> T:
        with self._step(name):
            return await work

    async def _placed(self, host: DockerHost) -> Container:
        image = await self._storage("image", lambda: self._image(host))
        return await self._container(host, image)

    async def _storage(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        """``step()``, retried while object storage is unreachable (an S3 outage delays the
        job instead of failing it), up to ``storage_wait_s``."""
        return await retry(step, what=f"job_{what}", deadline_s=self.env.settings.storage_wait_s,
                           retry_on=(StorageUnavailable,), base_s=0.2, cap_s=2.0)

    def interrupt(self) -> None:
        """Ask the agent to stop and keep its best solution (SIGUSR1), now or once started."""
        self._interrupt_wanted = True
        if self._pid is not None and self.container is not None:
            self._signal(self.container, self._pid)

    async def _image(self, host: DockerHost) -> str:
        job, storage = self.job, self.env.storage
        image_ref = f"modelport/runtime:{job.runtime_version}"

        def fetch() -> AsyncIterator[bytes]:
            return storage.download(job.runtime_package.s3_key)

        image = await ensure_image(host, job.runtime_version, image_ref,
                                   job.runtime_image_digest, fetch,
                                   package_sha256=job.runtime_package.sha256,
                                   trusted_keys=self.env.trusted_keys, spool_dir=str(self.tmp))
        warm = self.env.warm.get(host.name)
        if warm is not None:
            warm.add_runtime(job.runtime_version, image)
        return image

    async def _inputs(self) -> Path:
        return await prepare_inputs(self.env.storage, self.env.platform_key,
                                    self.job.app_package, self.job.input_case, self.tmp,
                                    await self._start())

    async def _start(self) -> bytes | None:
        """The newest checkpoint of an earlier attempt of this job (a re-run resumes)."""
        if self.job.attempt <= 1:
            return None
        found = await newest_before(self.env.storage, self.job.job_id, self.job.attempt)
        if found is None:
            return None
        self._resumed = True
        self.joblog.write("solve", f"resuming from the checkpoint of attempt {found[0]}")
        log.info("job_resumed_from_checkpoint", from_attempt=found[0])
        return found[1]

    async def _container(self, host: DockerHost, image: str) -> Container:
        s, job = self.env.settings, self.job
        limits = Limits(memory_mb=job.memory_mb, cpus=s.job_cpus, pids=s.job_pids,
                        work_mb=s.job_work_mb)
        warm = self.env.warm.get(host.name) or WarmPool(host, size=0, owner=self.env.owner)
        self.container = await warm.acquire(
            job.runtime_version, image, kind=SERVICE_KIND, id=job.job_id, attempt=job.attempt,
            service=host.service, limits=limits)
        return self.container

    def _request(self) -> dict[str, Any]:
        """The run's arguments (``run``'s options, the ``serve`` request's keys)."""
        job = self.job
        return {"app": f"/work/{APP_DIR}", "procedure": job.procedure,
                "output": f"/work/{OUTPUT_FILE}", "options": job.options,
                "input": f"/work/{INPUT_FILE}" if job.input_case is not None else None,
                # only when resuming: a runtime older than checkpoints refuses the key
                **({"start": f"/work/{START_FILE}"} if self._resumed else {})}

    def _agent(self, container: Container, files: Path | None) -> AgentExec | AgentServe:
        digest = {"MODELPORT_RUNTIME_DIGEST": self.job.runtime_image_digest}
        request = self._request()
        if container.serving:
            result = None if files is None else ResultReceiver(self.tmp / OUTPUT_FILE,
                                                               self.env.max_case_bytes)
            return AgentServe(container, {**request, "env": digest}, files, result)
        cmd = ["python", "-m", "modelport.agent", "run"]
        for key, value in request.items():
            if value is not None:
                cmd += [f"--{key}", json.dumps(value) if key == "options" else value]
        return AgentExec(container, cmd, env=digest)

    async def _run_agent(self, container: Container, files: Path | None = None) -> int:
        """Stream the agent's lines (with ``files``: the inputs go and the result comes on
        its stdin/stdout); return its exit code (-1 when the time limit killed it or the
        result's bytes were refused)."""
        agent = self._agent(container, files)
        try:
            async with asyncio.timeout(self.job.time_limit_s):
                async for stream, line in agent.lines():
                    self._on_line(container, stream, line)
        except TimeoutError:
            self._timed_out = True
            self.joblog.write("solve", f"time limit of {self.job.time_limit_s} s reached")
            await kill(container)
            return -1
        except BadTransfer as exc:
            self._bad_transfer = True
            self.joblog.write("solve", "the files on the agent's stdin/stdout were refused: "
                              f"{exc.message}")
            await kill(container)
            return -1
        finally:
            self._transfer_ms = _transfer_ms(agent)
        return await agent.exit_code()

    def _split_agent_step(self) -> None:
        """Report sending the inputs and receiving the result (serve protocol 2) as steps
        of their own (``send``, ``receive``), out of ``agent``."""
        for name, ms in self._transfer_ms.items():
            self._steps[name] = ms
            self._steps["agent"] = self._steps.get("agent", 0.0) - ms

    def _on_line(self, container: Container, stream: Stream, line: bytes) -> None:
        if stream == "stderr":
            self.joblog.write("stderr", line)
            return
        event = parse_line(line)
        if isinstance(event, LogEvent):
            self.joblog.write(event.source, event.line)
        elif isinstance(event, ProgressEvent):
            self._progress.offer(self._progress_of(event))
        elif isinstance(event, StartedEvent):
            self._started(container, event)
        elif isinstance(event, CheckpointEvent):
            self._checkpoints.offer(event.values)
        elif isinstance(event, ResultEvent):
            self._result = event
        elif isinstance(event, ErrorEvent):
            self._error = event
            self.joblog.write("agent", f"error {event.reason}: {event.message}")

    def _started(self, container: Container, event: StartedEvent) -> None:
        self._pid = event.pid
        self.joblog.write("solve", f"agent started (pid {event.pid}) in {container.name}")
        if self._interrupt_wanted:
            self._signal(container, event.pid)

    def _signal(self, container: Container, pid: int) -> None:
        task = asyncio.create_task(signal_process(container, pid))
        self._signals.add(task)
        task.add_done_callback(self._signal_done)

    def _signal_done(self, task: asyncio.Task[None]) -> None:
        self._signals.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("job_interrupt_failed", error=str(task.exception()))

    def _progress_of(self, event: ProgressEvent) -> JobProgress:
        job = self.job
        return JobProgress(worker=self.env.worker, job_id=job.job_id, attempt=job.attempt,
                           fraction=min(max(event.fraction, 0.0), 1.0),
                           message=event.message[:500], incumbent=event.incumbent,
                           bound=event.bound)

    def _verdict(self, exit_code: int) -> Outcome | None:
        """The failed outcome, or None when the run succeeded (its result is to be kept)."""
        if self._timed_out:
            return Outcome("failed", "timeout")
        if self._bad_transfer:
            return Outcome("failed", "bad_transfer")
        if self._result is not None and exit_code == 0:
            return None
        if self._error is not None and _disk_full(self._error):
            self.joblog.write("solve", "the job's writable space is full: /work holds at most "
                              f"{self.env.settings.job_work_mb} MB (MODELPORT_JOB_WORK_MB)")
            return Outcome("failed", "disk_full")
        if self._error is not None:
            return Outcome("failed", self._error.reason)
        if exit_code == OOM_EXIT:
            self.joblog.write("solve", f"killed: out of memory (limit {self.job.memory_mb} MB)")
            return Outcome("failed", "oom")
        self.joblog.write("solve", f"the agent exited with {exit_code} and no final line")
        return Outcome("failed", "internal")

    async def _copy_result(self, container: Container) -> Path:
        local = self.tmp / OUTPUT_FILE
        await copy_out(container, f"/work/{OUTPUT_FILE}", local, self.env.max_case_bytes)
        return local

    async def _store(self, local: Path) -> Outcome:
        assert self._result is not None
        key = attempt_key(self.job.job_id, self.job.attempt, "result")
        stored = await self.env.storage.upload(key, file_chunks(local))
        ref = BlobRef(s3_key=stored.key, sha256=stored.sha256, size_bytes=stored.size)
        lineage = await asyncio.to_thread(lineage_of, local)
        return Outcome("succeeded", interrupted=self._result.interrupted, output_case=ref,
                       lineage=lineage)


def _disk_full(error: ErrorEvent) -> bool:
    """Whether the run failed because a write found no space (ENOSPC, errno 28): the agent
    reports the exception's text, ``OSError: [Errno 28] No space left on device``."""
    text = f"{error.message}\n{error.traceback or ''}"
    return f"[Errno {errno.ENOSPC}]" in text or os.strerror(errno.ENOSPC) in text


def _transfer_ms(agent: AgentExec | AgentServe) -> dict[str, float]:
    if not isinstance(agent, AgentServe):
        return {}
    return {**agent.ms, **(agent.result.ms if agent.result is not None else {})}


async def _discard(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


def lineage_of(path: Path) -> dict[str, Any]:
    """The lineage recorded in the result case at ``path``, once the whole case was read and
    checked in bounded memory (the app wrote it: it is not trusted). Raises BadResult."""
    from modelport.case import CaseError, read_case

    try:
        lineage = read_case(path).metadata.get("lineage")
    except CaseError as exc:
        raise BadResult(f"the result case is refused: {exc.code}: {exc.message}") from None
    return dict(lineage) if isinstance(lineage, dict) else {}
