"""Worker identity on shared Docker hosts: which containers are this worker's, which are
another's, and reclaiming the orphans of a dead one.

Every container a solve worker makes carries the label OWNER ``solve/<instance>``. At start a
worker removes only containers with its own owner (an earlier life under the same instance
id); containers of other workers are reported to backend with each heartbeat
(``WorkerReport.foreign``) and removed only when backend names them in ``reclaim``: their
attempt is no longer leased (the worker died and its lease lapsed, or the job moved on), or,
for an idle warm container, its owner has stopped reporting. So replicas sharing a host and
a service label never kill each other's running jobs, and a dead worker's orphans give their
slots back within a lease TTL plus a report interval instead of at the next start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

from common.contracts.jobs import ForeignContainer
from common.docker import Container, HostPool, found, remove, sweep_owned
from common.docker.host import IDLE_PREFIX
from common.docker.spec import KIND, OWNER, parse_container_name

log = structlog.get_logger(__name__)
OWNER_PREFIX = "solve/"


def owner_of(instance: str) -> str:
    """The OWNER label value of the containers of solve worker ``instance``."""
    return f"{OWNER_PREFIX}{instance}"


class Reclaimer:
    """Own-container sweep at start; foreign containers listed and orphans removed later."""

    def __init__(self, pool: HostPool, instance: str) -> None:
        self.pool, self.instance, self.owner = pool, instance, owner_of(instance)
        self._seen: dict[str, Container] = {}  # foreign containers by name, last listed

    async def sweep_own(self, only: str | None = None, *, keep: Iterable[str] = ()
                        ) -> list[str]:
        """Remove this worker's containers (but those named in ``keep``) on every reachable
        host, or on host ``only``: what an earlier life left at start, or what a host that
        failed and came back still holds of the attempts lost with it."""
        removed: list[str] = []
        for host in self.pool.hosts:
            if only is not None and host.name != only:
                continue
            try:
                removed += await sweep_owned(host, self.owner, keep=keep)
            except Exception as exc:  # a host that is down is swept at the next start
                log.warning("docker_sweep_failed", host=host.name, error=str(exc))
        return removed

    async def foreign(self) -> list[ForeignContainer]:
        """Job and warm containers of other solve workers on the healthy hosts."""
        healthy = {s.name for s in self.pool.states() if s.healthy}
        seen: list[ForeignContainer] = []
        self._seen = {}
        for host in self.pool.hosts:
            if host.name not in healthy:
                continue
            try:
                items = await host.ours(all_states=True)
            except Exception as exc:
                log.warning("docker_list_failed", host=host.name, error=str(exc))
                continue
            for item in items:
                entry = _foreign(item, self.owner)
                if entry is not None:
                    seen.append(entry)
                    self._seen[entry.name] = found(host, item)
        return seen

    async def reclaim(self, names: list[str]) -> None:
        """Remove the named foreign containers (and volumes) backend called orphans."""
        for name in names:
            container = self._seen.pop(name, None)
            if container is None:
                continue
            log.warning("docker_orphan_reclaimed", host=container.host.name, container=name)
            try:
                await asyncio.shield(remove(container))
            except Exception as exc:  # listed again and retried on the next report
                log.warning("docker_reclaim_failed", container=name, error=str(exc))


def _foreign(item: dict[str, object], own: str) -> ForeignContainer | None:
    """The item as a ForeignContainer when it is another solve worker's job or warm
    container (or an unlabelled job container of an older version); None otherwise."""
    labels = item.get("Labels") or {}
    assert isinstance(labels, dict)
    owner = str(labels.get(OWNER, ""))
    if owner == own or (owner and not owner.startswith(OWNER_PREFIX)):
        return None
    names = item.get("Names") or ["/"]
    assert isinstance(names, list)
    name = str(names[0]).lstrip("/")
    parsed = parse_container_name(name)
    worker = owner.removeprefix(OWNER_PREFIX)
    if parsed is not None and parsed[0] == "job":
        return ForeignContainer(name=name, owner_worker=worker, job_id=parsed[1],
                                attempt=parsed[2])
    if owner and f"/{name}".startswith(IDLE_PREFIX) and labels.get(KIND) == "warm":
        return ForeignContainer(name=name, owner_worker=worker)
    return None
