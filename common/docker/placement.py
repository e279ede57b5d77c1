"""Where a container goes: the least-loaded healthy host with room. Pure, no engine."""

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

    @property
    def free_slots(self) -> int:
        return self.slots - self.used_slots

    @property
    def free_memory_mb(self) -> int:
        return self.memory_mb - self.used_memory_mb

    def fits(self, need: Need) -> bool:
        return (self.healthy and self.free_slots >= need.slots
                and self.free_memory_mb >= need.memory_mb)

    @property
    def load(self) -> float:
        return self.used_slots / self.slots if self.slots else 1.0


def choose_host(hosts: Iterable[HostState], need: Need) -> HostState | None:
    """The healthy host with room for ``need`` and the lowest slot load; ties go to the one
    with more free memory, then to the first name. None when no host fits."""
    fitting = [h for h in hosts if h.fits(need)]
    if not fitting:
        return None
    return min(fitting, key=lambda h: (h.load, -h.free_memory_mb, h.name))
