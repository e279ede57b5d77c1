"""Docker hosts in zones: placement spreads work over zones and skips a drained host.

Pure placement first, then the real thing: a second Docker engine on this machine
(tests/ha/engine.py) as the host of zone ``b``, the main engine as zone ``a``, one solve
worker with both, and a batch of jobs landing in both zones; drained, zone ``b`` gets none.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from common.docker import DockerSettings, HostConfig, HostState, Need, Reservation, choose_host
from common.settings import S3Settings
from solve_svc.service import SolveService
from tests.e2e.platform import Platform, running_platform
from tests.e2e.runtime import E2ERuntime
from tests.ha.engine import second_engine


def _h(name: str, zone: str, used: int = 0, *, drained: bool = False) -> HostState:
    return HostState(name, True, 4, 8000, used, used * 100, zone=zone, drained=drained)


def test_the_least_loaded_zone_wins_then_the_least_loaded_host() -> None:
    # zone a: 3 of 8 slots used; zone b: 2 of 4 → a (0.375 < 0.5), though b2 is emptier
    hosts = [_h("a1", "a", 2), _h("a2", "a", 1), _h("b1", "b", 2), _h("b2", "b", 0)]
    hosts[3] = HostState("b2", True, 0, 8000, zone="b")  # no slots: counts, never fits
    assert (choose_host(hosts, Need(100)) or hosts[0]).name == "a2"
    # successive placements alternate zones
    placed = []
    states = {h.name: h for h in (_h("a1", "a"), _h("b1", "b"))}
    for _ in range(4):
        chosen = choose_host(states.values(), Need(100))
        assert chosen is not None
        placed.append(chosen.zone)
        states[chosen.name] = _h(chosen.name, chosen.zone, chosen.used_slots + 1)
    assert placed == ["a", "b", "a", "b"]


def test_a_drained_host_takes_nothing_and_does_not_count_for_its_zone() -> None:
    hosts = [_h("a1", "a", 3), _h("b1", "b", 0, drained=True)]
    assert (choose_host(hosts, Need(100)) or hosts[1]).name == "a1"
    assert choose_host([_h("b1", "b", drained=True)], Need(100)) is None


def test_zone_names_are_checked() -> None:
    with pytest.raises(ValueError, match="lowercase"):
        HostConfig(name="x", zone="Zone A")
    assert HostConfig(name="x").zone == "default"


async def _worker(p: Platform, url_b: str) -> tuple[SolveService, list[str]]:
    """A solve worker with the main engine (zone a) and the second (zone b), 2 slots each;
    the list gets the host of every placement."""
    docker = DockerSettings(hosts=[HostConfig(name="host-a", url=p.docker_url, slots=2,
                                              zone="a"),
                                   HostConfig(name="host-b", url=url_b, slots=2, zone="b")],
                            service=p.label)
    service = SolveService(p.solve_settings("solve-zones"), docker=docker,
                           s3=p.stack.s3_settings,
                           packages=p.package_settings())
    await service.start()
    p.workers.append(service)
    assert service.pool is not None
    placed: list[str] = []
    reserve = service.pool.reserve

    def spy(name: str, need: Need) -> Reservation:
        reservation = reserve(name, need)
        placed.append(reservation.host.name)
        return reservation

    service.pool.reserve = spy  # type: ignore[method-assign]
    return service, placed


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_batch_lands_in_both_zones_and_a_drained_host_gets_none(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> None:
    with second_engine() as url_b:
        async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                    docker_url=docker_engine, label=label) as p:
            service, placed = await _worker(p, url_b)
            batch = [(await p.submit("transport"))["id"] for _ in range(4)]
            done = await p.settled(batch, timeout_s=300)
            assert {j["state"] for j in done} == {"succeeded"}, done
            assert sorted(placed) == ["host-a", "host-a", "host-b", "host-b"], placed

            assert service.pool is not None
            service.pool.drain("host-b")
            placed.clear()
            later = [(await p.submit("transport"))["id"] for _ in range(2)]
            done = await p.settled(later, timeout_s=120)
            assert {j["state"] for j in done} == {"succeeded"}, done
            assert placed == ["host-a", "host-a"], placed
            service.pool.resume("host-b")
            assert any(s.name == "host-b" and not s.drained for s in service.pool.states())
            await asyncio.gather(*(w.stop() for w in p.workers))
            p.workers.clear()
