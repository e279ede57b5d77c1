"""The configured Docker hosts: health by ping, placement with reservations."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import structlog

from common.docker.errors import NoCapacity
from common.docker.host import DockerHost, Usage
from common.docker.placement import HostState, Need, choose_host
from common.docker.settings import DockerSettings
from common.lifecycle import StartStop

log = structlog.get_logger(__name__)


@dataclass
class Reservation:
    """A slot (and memory) held on ``host`` for the container ``name`` until released."""

    host: DockerHost
    name: str
    need: Need
    _pool: HostPool = field(repr=False)

    def release(self) -> None:
        """Give the slot back; calling it twice is harmless."""
        self._pool._release(self)


@dataclass
class _Tracked:
    host: DockerHost
    healthy: bool = False
    usage: Usage = field(default_factory=lambda: Usage(frozenset(), ()))
    reserved: dict[str, Need] = field(default_factory=dict)
    drained: bool = False

    def state(self) -> HostState:
        outside = [(n, m) for n, m in self.usage.memory_by_name if n not in self.reserved]
        cfg = self.host.config
        return HostState(
            name=cfg.name, healthy=self.healthy, slots=cfg.slots, memory_mb=cfg.memory_mb,
            used_slots=len(outside) + sum(n.slots for n in self.reserved.values()),
            used_memory_mb=sum(m for _, m in outside)
            + sum(n.memory_mb for n in self.reserved.values()),
            zone=cfg.zone, drained=self.drained,
        )


class HostPool(StartStop):
    """The hosts of ``settings``. ``start()`` opens clients, checks health once and keeps
    checking every ``health_interval_s``; ``stop()`` ends that and closes the clients."""

    def __init__(self, settings: DockerSettings, hosts: list[DockerHost] | None = None) -> None:
        self.settings = settings
        made = hosts or [DockerHost(c, service=settings.service) for c in settings.hosts]
        self._tracked = {h.name: _Tracked(h, drained=h.config.drained) for h in made}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for t in self._tracked.values():
            await t.host.start()
        await self.refresh()
        self._task = asyncio.create_task(self._health_loop(), name="docker-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for t in self._tracked.values():
            await t.host.stop()

    @property
    def hosts(self) -> list[DockerHost]:
        return [t.host for t in self._tracked.values()]

    def host(self, name: str) -> DockerHost:
        return self._tracked[name].host

    def drain(self, name: str) -> None:
        """Place no new work on host ``name``; what runs there goes on and finishes."""
        self._tracked[name].drained = True
        log.info("docker_host_drained", host=name)

    def resume(self, name: str) -> None:
        """Place work on a drained host again."""
        self._tracked[name].drained = False
        log.info("docker_host_resumed", host=name)

    def states(self) -> list[HostState]:
        """Capacity and use of every host as last seen plus current reservations."""
        return [t.state() for t in self._tracked.values()]

    def container_counts(self) -> dict[str, int]:
        """Our running containers per host as last counted (idle warm ones excluded)."""
        return {name: len(t.usage.names) for name, t in self._tracked.items()}

    async def refresh(self) -> None:
        """Ping every host and recount its containers (concurrently)."""
        await asyncio.gather(*(self._check(t) for t in self._tracked.values()))

    async def _check(self, tracked: _Tracked) -> None:
        healthy = await tracked.host.ping(self.settings.ping_timeout_s)
        if healthy:
            try:
                tracked.usage = await tracked.host.usage()
            except Exception as exc:  # a host failing mid-check counts as down
                log.warning("docker_usage_failed", host=tracked.host.name, error=str(exc))
                healthy = False
        if healthy != tracked.healthy:
            log.info("docker_host_health", host=tracked.host.name, healthy=healthy)
        tracked.healthy = healthy

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.health_interval_s)
            await self.refresh()

    def reserve(self, name: str, need: Need) -> Reservation:
        """Hold room for container ``name`` on the best host; raises NoCapacity.

        Synchronous on purpose: no await between choosing and booking, so concurrent
        placements cannot overbook a host.
        """
        chosen = choose_host(self.states(), need)
        if chosen is None:
            raise NoCapacity("no Docker host has room for this container right now")
        tracked = self._tracked[chosen.name]
        tracked.reserved[name] = need
        log.info("docker_placed", host=chosen.name, container=name, memory_mb=need.memory_mb)
        return Reservation(tracked.host, name, need, self)

    @contextlib.contextmanager
    def reserved(self, name: str, need: Need) -> Iterator[Reservation]:
        """``reserve`` as a context manager that always releases."""
        reservation = self.reserve(name, need)
        try:
            yield reservation
        finally:
            reservation.release()

    def _release(self, reservation: Reservation) -> None:
        self._tracked[reservation.host.name].reserved.pop(reservation.name, None)
