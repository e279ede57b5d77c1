"""Docker hosts in zones: placement spreads work over zones and skips a drained host.

Pure placement first, then the real thing: a second Docker engine on this machine
(tests/ha/engine.py) as the host of zone ``b``, the main engine as zone ``a``, one solve
worker with both, and a batch of jobs landing in both zones; drained, zone ``b`` gets none.
Last, an admin drains a host through the REST API: every worker that shares it (one started
after the drain too) places nothing new there, the job running there finishes, and once
returned it takes work again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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


async def _worker(p: Platform, url_b: str, name: str = "solve-zones"
                  ) -> tuple[SolveService, list[str]]:
    """A solve worker with the main engine (zone a) and the second (zone b), 2 slots each;
    the list gets the host of every placement."""
    docker = DockerSettings(hosts=[HostConfig(name="host-a", url=p.docker_url, slots=2,
                                              zone="a"),
                                   HostConfig(name="host-b", url=url_b, slots=2, zone="b")],
                            service=p.label)
    service = SolveService(p.solve_settings(name), docker=docker,
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


@pytest.fixture
async def two_hosts(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> AsyncIterator[tuple[Platform, str]]:
    """A platform on the main engine (zone a) and the URL of a second engine (zone b)."""
    with second_engine() as url_b:
        async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                    docker_url=docker_engine, label=label) as p:
            yield p, url_b


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_batch_lands_in_both_zones_and_a_drained_host_gets_none(
    two_hosts: tuple[Platform, str],
) -> None:
    p, url_b = two_hosts
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


async def _learned(workers: list[SolveService], host: str, drained: bool) -> None:
    """Wait (bounded) until every worker's pool shows ``host`` as ``drained``: each learns it
    from backend's reply to its next heartbeat."""
    def learned() -> bool:
        return all(any(s.name == host and s.drained == drained for s in w.pool.states())
                   for w in workers if w.pool is not None)

    for _ in range(300):  # 30 s at most
        if learned():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"workers did not learn {host} drained={drained}")


async def _admin(p: Platform, action: str, host: str) -> dict[str, object]:
    status, body = await p.call("POST", f"/api/v1/admin/hosts/{host}/{action}")
    assert status == 200, body
    return dict(body)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_an_admin_drains_a_host_for_every_worker_running_work_finishes_and_returns_it(
    two_hosts: tuple[Platform, str],
) -> None:
    p, url_b = two_hosts
    (w1, placed1), (w2, placed2) = [await _worker(p, url_b, f"solve-drain-{i}")
                                    for i in (1, 2)]
    workers = [w1, w2]
    status, unknown = await p.call("POST", "/api/v1/admin/hosts/nowhere/drain")
    assert (status, unknown["error"]["code"]) == (404, "not_found")

    # a long job on host-b: host-a is kept out by the workers' own setting first
    for w in workers:
        assert w.pool is not None
        w.pool.drain("host-a")
    case_id = await p.upload_case("sleeper", {"seconds": 8.0, "step_s": 0.1})
    long_job = (await p.submit("sleeper", "sleep", input_case_id=case_id))["id"]
    await p.event(long_job, "started", timeout_s=120)
    assert placed1 + placed2 == ["host-b"]
    for w in workers:
        assert w.pool is not None
        w.pool.resume("host-a")

    host = await _admin(p, "drain", "host-b")
    assert (host["drained"], host["drained_by"]) == (True, "admin")
    assert sorted(host["workers"]) == ["solve-drain-1", "solve-drain-2"]  # type: ignore[arg-type]
    await _learned(workers, "host-b", True)
    assert (await p.job(long_job))["state"] == "running"
    placed1.clear()
    placed2.clear()
    later = [(await p.submit("transport"))["id"] for _ in range(3)]
    done = await p.settled(later, timeout_s=180)
    assert {j["state"] for j in done} == {"succeeded"}, done
    assert placed1 + placed2 == ["host-a"] * 3, (placed1, placed2)
    finished = await p.finished(long_job, timeout_s=120)
    assert (finished["state"], finished["reason"]) == ("succeeded", None), finished

    # the drain is backend's: a worker started later learns it at its first heartbeat
    w3, placed3 = await _worker(p, url_b, "solve-drain-3")
    await w2.stop()
    p.workers.remove(w2)
    workers = [w1, w3]
    await _learned(workers, "host-b", True)
    status, hosts = await p.call("GET", "/api/v1/admin/hosts")
    assert status == 200
    by_name = {h["name"]: h for h in hosts["hosts"]}
    assert (by_name["host-b"]["drained"], by_name["host-a"]["drained"]) == (True, False)
    assert (by_name["host-b"]["zone"], by_name["host-b"]["slots"]) == ("b", 2)

    # returned (and host-a drained), new work goes to host-b again
    await _admin(p, "drain", "host-a")
    assert (await _admin(p, "return", "host-b"))["drained"] is False
    await _learned(workers, "host-b", False)
    await _learned(workers, "host-a", True)
    placed1.clear()
    again = [(await p.submit("transport"))["id"] for _ in range(2)]
    done = await p.settled(again, timeout_s=180)
    assert {j["state"] for j in done} == {"succeeded"}, done
    assert placed1 + placed3 == ["host-b"] * 2, (placed1, placed3)
    await _admin(p, "return", "host-a")
    await asyncio.gather(*(w.stop() for w in p.workers))
    p.workers.clear()
