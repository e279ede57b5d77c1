"""The configured Docker hosts: health by ping, placement with reservations.

A host that stops answering is marked down within ``health_interval_s + ping_timeout_s``
(the health loop's next ping fails), or at once when a caller whose Docker call failed asks
:meth:`HostPool.confirm_down`. A down host gets no new work; listeners registered with
:meth:`HostPool.on_health` hear every change (down, and up again when it answers), so a
worker can give up the work it had there right away and clean up when the host returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

import structlog

from common.backoff import retry
from common.contracts.admin import HostLoad
from common.docker.errors import NoCapacity
from common.docker.host import DockerHost, Usage
from common.docker.placement import HostState, Need, choose_host
from common.docker.settings import DockerSettings
from common.lifecycle import StartStop

log = structlog.get_logger(__name__)
HealthListener = Callable[[str, bool], None]  # (host name, healthy now)


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

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class _Tracked:
    host: DockerHost
    healthy: bool = False
    usage: Usage = field(default_factory=lambda: Usage(frozenset(), ()))
    reserved: dict[str, Need] = field(default_factory=dict)
    drained: bool = False  # by this process (its settings, drain())
    admin_drained: bool = False  # by an admin, as backend last said (set_admin_drained)

    def state(self) -> HostState:
        outside = [(n, m) for n, m in self.usage.memory_by_name if n not in self.reserved]
        cfg = self.host.config
        return HostState(
            name=cfg.name, healthy=self.healthy, slots=cfg.slots, memory_mb=cfg.memory_mb,
            used_slots=len(outside) + sum(n.slots for n in self.reserved.values()),
            used_memory_mb=sum(m for _, m in outside)
            + sum(n.memory_mb for n in self.reserved.values()),
            zone=cfg.zone, drained=self.drained or self.admin_drained,
        )


class HostPool(StartStop):
    """The hosts of ``settings``. ``start()`` opens clients, checks health once and keeps
    checking every ``health_interval_s``; ``stop()`` ends that and closes the clients."""

    def __init__(self, settings: DockerSettings, hosts: list[DockerHost] | None = None) -> None:
        self.settings = settings
        made = hosts or [DockerHost(c, service=settings.service) for c in settings.hosts]
        self._tracked = {h.name: _Tracked(h, drained=h.config.drained) for h in made}
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[HealthListener] = []

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

    def on_health(self, listener: HealthListener) -> None:
        """Call ``listener(host, healthy)`` on every change of a host's health from now on
        (synchronously, from the check that saw it: it must not block)."""
        self._listeners.append(listener)

    def healthy(self, name: str) -> bool:
        """The host's health as last checked."""
        return self._tracked[name].healthy

    async def confirm_down(self, name: str) -> bool:
        """Check host ``name`` now (a Docker call on it just failed); True when it is down
        (it is then marked down and listeners are told at once)."""
        tracked = self._tracked[name]
        await self._check(tracked)
        return not tracked.healthy

    async def goes_down(self, name: str, within_s: float) -> bool:
        """True when host ``name`` is down now (checked afresh) or goes down within
        ``within_s`` (checked every 0.5 s): a host shut down gracefully kills its containers
        and refuses work a few seconds before its API goes."""
        deadline = asyncio.get_running_loop().time() + within_s
        while not await self.confirm_down(name):
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.5)
        return True

    def set_admin_drained(self, names: Collection[str]) -> None:
        """The hosts an admin drained (backend's answer to a heartbeat): no new work there,
        the rest back in service. Names of hosts this pool does not have are ignored."""
        for name, tracked in self._tracked.items():
            drained = name in names
            if drained != tracked.admin_drained:
                log.info("docker_host_admin_drain", host=name, drained=drained)
            tracked.admin_drained = drained

    def loads(self) -> list[HostLoad]:
        """Each host's capacity and use, as sent with a worker's heartbeat."""
        return [HostLoad(name=s.name, zone=s.zone, healthy=s.healthy, slots=s.slots,
                         used_slots=max(s.used_slots, 0), memory_mb=s.memory_mb,
                         used_memory_mb=max(s.used_memory_mb, 0)) for s in self.states()]

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
        changed = healthy != tracked.healthy
        tracked.healthy = healthy
        if changed:
            self._changed(tracked.host.name, healthy)

    def _changed(self, name: str, healthy: bool) -> None:
        if healthy:
            log.info("docker_host_up", host=name)
        else:
            log.warning("docker_host_down", host=name)
        for listener in self._listeners:
            try:
                listener(name, healthy)
            except Exception:  # one listener's bug must not stop the health checks
                log.exception("docker_health_listener_failed", host=name)

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

    async def wait_reserve(self, name: str, need: Need, *, wait_s: float) -> Reservation:
        """``reserve``, waiting up to ``wait_s`` for room when none looks free (a host back
        from down, a container ended): the hosts are recounted between tries. Raises
        NoCapacity after."""
        try:
            return self.reserve(name, need)
        except NoCapacity:
            if wait_s <= 0:
                raise
            log.info("docker_waits_for_room", container=name, wait_s=wait_s)

        async def recounted() -> Reservation:
            await self.refresh()  # containers removed since the last health check
            return self.reserve(name, need)

        return await retry(recounted, what="docker_room", deadline_s=wait_s,
                           retry_on=(NoCapacity,), base_s=0.5, cap_s=3.0)

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
