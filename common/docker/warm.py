"""A warm pool on one host: idle, pre-started runtime containers per runtime, so a job or
session skips container start. A container leaves the pool once and never comes back."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiodocker
import structlog

from common.backoff import delays
from common.docker.containers import Container, _delete_container, create_started, remove
from common.docker.host import DockerHost
from common.docker.metrics import WarmMetrics
from common.docker.spec import ContainerRequest, Kind, Limits, container_name

log = structlog.get_logger(__name__)
IDLE_CMD = ("sleep", "infinity")


@dataclass
class _Runtime:
    image: str
    idle: list[Container] = field(default_factory=list)
    wanted: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    starting: asyncio.Task[Container] | None = None


class WarmPool:
    """Keeps ``size`` idle containers per added runtime on ``host``, all with ``limits``.

    Refilling runs in one background task per runtime, one start at a time, backing off
    (full jitter, up to ``max_backoff_s``) while starts fail.
    """

    def __init__(self, host: DockerHost, *, size: int, limits: Limits | None = None,
                 idle_cmd: Sequence[str] = IDLE_CMD, serve_cmd: Sequence[str] | None = None,
                 max_backoff_s: float = 30.0, metrics: WarmMetrics | None = None,
                 network: str | None = None, owner: str = "",
                 protocol_label: str | None = None) -> None:
        self.host, self.size, self.limits = host, size, limits or Limits()
        self.owner = owner  # the label OWNER of every container this pool makes
        self._idle_cmd = list(idle_cmd)
        # with serve_cmd, idle containers run it (stdin open) and come out ``serving``;
        # a fresh container made when none is idle runs idle_cmd, unless its image's agent
        # speaks serve protocol 2 (protocol_label): it takes its files on stdin, so serving
        # from the start skips the archive API and overlaps the agent's start
        self._serve_cmd = list(serve_cmd) if serve_cmd else None
        # the image label giving the serve protocol of the agent in it (none or absent: 1)
        self._protocol_label = protocol_label
        self._protocols: dict[str, int] = {}  # image -> its serve protocol, read once
        self._max_backoff_s = max_backoff_s
        self._network = network  # every container of this pool joins it (sessions)
        self._runtimes: dict[str, _Runtime] = {}
        self._changed = asyncio.Condition()
        self._metrics = metrics
        if metrics is not None:
            metrics.seed(host.name)

    def add_runtime(self, runtime: str, image: str) -> None:
        """Start keeping ``size`` idle containers of ``image`` (an image id on this host)."""
        if runtime in self._runtimes or self.size == 0:
            return
        state = _Runtime(image)
        state.wanted.set()
        state.task = asyncio.create_task(self._refill(runtime, state), name=f"warm-{runtime}")
        self._runtimes[runtime] = state

    def idle_count(self, runtime: str) -> int:
        state = self._runtimes.get(runtime)
        return len(state.idle) if state else 0

    def idle_total(self) -> int:
        """Idle containers of every runtime."""
        return sum(len(state.idle) for state in self._runtimes.values())

    async def wait_filled(self, runtime: str, count: int | None = None) -> None:
        """Return once ``count`` (default: ``size``) containers of ``runtime`` are idle."""
        want = self.size if count is None else count
        async with self._changed:
            await self._changed.wait_for(lambda: self.idle_count(runtime) >= want)

    async def acquire(self, runtime: str, image: str, *, kind: Kind, id: str, attempt: int,
                      service: str, limits: Limits | None = None) -> Container:
        """A running container for ``kind``/``id``/``attempt``, renamed to its deterministic
        name: an idle one when the pool has one with the right limits, else a fresh one.
        The caller owns it from here on and removes it when done."""
        name = container_name(kind, id, attempt)
        state = self._runtimes.get(runtime)
        if state is not None and (limits is None or limits == self.limits):
            while state.idle:
                container = state.idle.pop(0)
                state.wanted.set()
                taken = await self._take(container, name)
                if taken is not None:
                    self._count(hit=True)
                    return taken
        self._count(hit=False)
        protocol = await self._serve_protocol(image) if self._serve_cmd else 1
        serving = self._serve_cmd is not None and protocol >= 2
        request = ContainerRequest(service, kind, id, attempt, runtime, image,
                                   self._serve_cmd if serving and self._serve_cmd
                                   else self._idle_cmd,
                                   limits or self.limits, stdin=serving, network=self._network,
                                   owner=self.owner, serve_protocol=protocol)
        container = await create_started(self.host, request)
        return dataclasses.replace(container, serving=serving, serve_protocol=protocol)

    def _count(self, *, hit: bool) -> None:
        if self._metrics is not None:
            self._metrics.acquired(self.host.name, hit=hit)

    async def _take(self, container: Container, name: str) -> Container | None:
        """Rename an idle container for its user; None (and it is removed) if it died."""
        handle = self.host.docker.containers.container(container.id)
        try:
            running = (await handle.show())["State"]["Running"]
            if running:
                await self._rename(handle, name)
        except aiodocker.DockerError as exc:
            log.warning("warm_container_unusable", container=container.name, error=str(exc))
            running = False
        if not running:
            await remove(container)
            return None
        log.info("warm_acquired", host=self.host.name, container=name)
        return dataclasses.replace(container, name=name)

    async def _rename(self, handle: aiodocker.containers.DockerContainer, name: str) -> None:
        try:
            await handle.rename(name)
        except aiodocker.DockerError as exc:
            if exc.status != 409:
                raise
            await _delete_container(self.host, name)  # a leftover of an earlier try
            await handle.rename(name)

    async def _refill(self, runtime: str, state: _Runtime) -> None:
        backoff = delays(base_s=0.5, cap_s=self._max_backoff_s)
        while True:
            await state.wanted.wait()
            if len(state.idle) >= self.size:
                state.wanted.clear()
                continue
            state.starting = asyncio.create_task(self._start_idle(runtime, state))
            try:
                # shielded: a close() during a start waits for it and removes what it made
                container = await asyncio.shield(state.starting)
            except (aiodocker.DockerError, OSError) as exc:
                log.warning("warm_start_failed", runtime=runtime, error=str(exc))
                await asyncio.sleep(next(backoff))
                continue
            backoff = delays(base_s=0.5, cap_s=self._max_backoff_s)
            state.idle.append(container)
            async with self._changed:
                self._changed.notify_all()

    async def _start_idle(self, runtime: str, state: _Runtime) -> Container:
        serving = self._serve_cmd is not None
        protocol = await self._serve_protocol(state.image) if serving else 1
        request = ContainerRequest(self.host.service, "warm", uuid.uuid4().hex[:12], 0,
                                   runtime, state.image, self._serve_cmd or self._idle_cmd,
                                   self.limits, stdin=serving, network=self._network,
                                   owner=self.owner, serve_protocol=protocol)
        container = await create_started(self.host, request)
        return dataclasses.replace(container, serving=serving, serve_protocol=protocol)

    async def _serve_protocol(self, image: str) -> int:
        """The serve protocol of the image's agent, from its label (read once; 1 without)."""
        if image not in self._protocols:
            value = "1"
            if self._protocol_label is not None:
                found = await self.host.docker.images.inspect(image)
                labels = (found.get("Config") or {}).get("Labels") or {}
                value = str(labels.get(self._protocol_label, "1"))
            self._protocols[image] = int(value) if value.isdigit() else 1
        return self._protocols[image]

    def forget_idle(self) -> None:
        """The host failed: its idle containers are gone with it. Drop them from the pool
        without asking the engine (a sweep removes what is left when the host returns);
        refills start again with the next acquire."""
        for state in self._runtimes.values():
            if state.idle:
                log.warning("warm_idle_forgotten", host=self.host.name, count=len(state.idle))
            state.idle = []

    async def close(self) -> None:
        """Stop refilling and remove every idle container."""
        for state in self._runtimes.values():
            if state.task is not None:
                state.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state.task
        for state in self._runtimes.values():
            idle, state.idle = state.idle, []
            if state.starting is not None and not state.starting.done():
                with contextlib.suppress(aiodocker.DockerError, OSError):
                    idle.append(await state.starting)
            await asyncio.gather(*(remove(c) for c in idle))
        self._runtimes.clear()
