"""Prometheus series of the Docker layer: warm-pool acquisitions (counted as they happen)
and the load of each host (read from the pool when scraped). Registered on the service's
own registry (see :mod:`common.metrics`); the list is in docs/operations.md."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from common.docker.pool import HostPool
    from common.docker.warm import WarmPool

MB = 1024 * 1024
_HOST_GAUGES = {
    "modelport_docker_host_up": "1 when the host answered its last health check, else 0.",
    "modelport_docker_host_slots": "Container slots the host offers (its configured capacity).",
    "modelport_docker_host_slots_used": "Slots in use: our running containers plus "
                                        "reservations being started.",
    "modelport_docker_host_slots_free": "Slots left for new containers (may be negative when "
                                        "something else started containers under our label).",
    "modelport_docker_host_containers": "Our running containers on the host at its last check "
                                        "(idle warm containers excluded).",
    "modelport_docker_host_memory_bytes": "Memory the host offers to our containers.",
    "modelport_docker_host_memory_used_bytes": "Memory limits of our containers and "
                                               "reservations, added up.",
    "modelport_warm_pool_idle": "Idle pre-started containers in the host's warm pool.",
}


def register_docker_metrics(registry: CollectorRegistry, pool: Callable[[], HostPool | None],
                            warm: Callable[[], Mapping[str, WarmPool]]) -> WarmMetrics:
    """Show the load of ``pool``'s hosts and ``warm``'s idle containers (both read when
    scraped, so they may be created later) on ``registry``; return the acquisition counter to
    hand to each :class:`~common.docker.warm.WarmPool`. What a service that drives Docker
    hosts calls once, in its constructor."""
    registry.register(HostLoadCollector(pool, warm))
    return WarmMetrics(registry)


class WarmMetrics:
    """``modelport_warm_pool_acquisitions_total{host, outcome}``: ``hit`` when an idle
    container was taken, ``miss`` when a fresh one had to be started."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.acquisitions = Counter(
            "modelport_warm_pool_acquisitions",
            "Containers handed out by a warm pool: hit = an idle one, miss = a fresh start.",
            ["host", "outcome"], registry=registry)

    def seed(self, host: str) -> None:
        """Show both outcomes of ``host`` at 0 before the first acquisition."""
        for outcome in ("hit", "miss"):
            self.acquisitions.labels(host, outcome)

    def acquired(self, host: str, *, hit: bool) -> None:
        self.acquisitions.labels(host, "hit" if hit else "miss").inc()


class HostLoadCollector(Collector):
    """Reads capacity and use of every host of the pool (and idle warm containers) at scrape
    time; yields the families without samples while the pool is not running."""

    def __init__(self, pool: Callable[[], HostPool | None],
                 warm: Callable[[], Mapping[str, WarmPool]]) -> None:
        self._pool, self._warm = pool, warm

    def describe(self) -> Iterator[Metric]:
        for name, text in _HOST_GAUGES.items():
            yield GaugeMetricFamily(name, text, labels=["host"])

    def collect(self) -> Iterator[Metric]:
        families = {name: GaugeMetricFamily(name, text, labels=["host"])
                    for name, text in _HOST_GAUGES.items()}
        pool = self._pool()
        if pool is not None:
            containers = pool.container_counts()
            for state in pool.states():
                host = [state.name]
                for name, value in (
                    ("modelport_docker_host_up", float(state.healthy)),
                    ("modelport_docker_host_slots", state.slots),
                    ("modelport_docker_host_slots_used", state.used_slots),
                    ("modelport_docker_host_slots_free", state.free_slots),
                    ("modelport_docker_host_containers", containers.get(state.name, 0)),
                    ("modelport_docker_host_memory_bytes", state.memory_mb * MB),
                    ("modelport_docker_host_memory_used_bytes", state.used_memory_mb * MB),
                ):
                    families[name].add_metric(host, value)
        for host_name, warm in self._warm().items():
            families["modelport_warm_pool_idle"].add_metric([host_name], warm.idle_total())
        yield from families.values()
