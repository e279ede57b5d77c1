"""choose_host: the least-loaded healthy host with room."""

from __future__ import annotations

from common.docker import HostState, Need, choose_host


def _h(name: str, *, slots: int = 4, used: int = 0, mem: int = 8000, used_mem: int = 0,
       healthy: bool = True) -> HostState:
    return HostState(name, healthy, slots, mem, used, used_mem)


def _name(hosts: list[HostState], need: Need) -> str | None:
    chosen = choose_host(hosts, need)
    return chosen.name if chosen else None


def test_least_loaded_wins() -> None:
    # loads: a 2/4 = 0.5, b 1/4 = 0.25, c 1/8 = 0.125
    assert _name([_h("a", used=2), _h("b", used=1), _h("c", slots=8, used=1)], Need(100)) == "c"
    assert _name([_h("a", used=2), _h("b", used=1)], Need(100)) == "b"


def test_unhealthy_skipped() -> None:
    assert _name([_h("a", healthy=False), _h("b", used=3)], Need(100)) == "b"


def test_full_and_short_of_memory_skipped() -> None:
    hosts = [_h("a", used=4), _h("b", used_mem=7900), _h("c", slots=0)]
    assert _name(hosts, Need(200)) is None
    assert _name(hosts, Need(100)) == "b"


def test_ties_by_free_memory_then_name() -> None:
    assert _name([_h("b"), _h("a")], Need(1)) == "a"
    assert _name([_h("a", used_mem=10), _h("b")], Need(1)) == "b"


def test_no_hosts() -> None:
    assert choose_host([], Need(1)) is None
