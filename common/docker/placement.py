"""Where a container goes: a healthy, not drained host with room, in the least-loaded zone,
then the least-loaded host of it. Pure, no engine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """What one container needs from a host."""

    memory_mb: int
    slots: int = 1


@dataclass(frozen=True)
class HostState:
    """A host's capacity and use at one moment (use = engine count + our reservations)."""

    name: str
    healthy: bool
    slots: int
    memory_mb: int
    used_slots: int = 0
    used_memory_mb: int = 0
    zone: str = ""
    drained: bool = False  # takes no new work; what runs there finishes

    @property
    def free_slots(self) -> int:
        return self.slots - self.used_slots

    @property
    def free_memory_mb(self) -> int:
        return self.memory_mb - self.used_memory_mb

    def fits(self, need: Need) -> bool:
        return (self.healthy and not self.drained and self.free_slots >= need.slots
                and self.free_memory_mb >= need.memory_mb)

    @property
    def load(self) -> float:
        return self.used_slots / self.slots if self.slots else 1.0


def zone_loads(hosts: Iterable[HostState]) -> dict[str, float]:
    """Used over total slots of each zone's healthy, not drained hosts."""
    used: dict[str, int] = {}
    total: dict[str, int] = {}
    for h in hosts:
        if h.healthy and not h.drained:
            used[h.zone] = used.get(h.zone, 0) + h.used_slots
            total[h.zone] = total.get(h.zone, 0) + h.slots
    return {z: used[z] / total[z] if total[z] else 1.0 for z in total}


def choose_host(hosts: Iterable[HostState], need: Need) -> HostState | None:
    """The host with room for ``need`` in the zone with the lowest slot load (so successive
    jobs spread over zones), then with the lowest slot load; ties go to the one with more
    free memory, then to the first name. None when no host fits."""
    listed = list(hosts)
    fitting = [h for h in listed if h.fits(need)]
    if not fitting:
        return None
    zones = zone_loads(listed)
    return min(fitting, key=lambda h: (zones.get(h.zone, 1.0), h.load, -h.free_memory_mb,
                                       h.name))
