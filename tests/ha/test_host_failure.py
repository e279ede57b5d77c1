"""A Docker host fails under running jobs: the real platform, two engines, one solve worker.

The main engine is host ``a`` (zone a), a second dockerd (tests/ha/engine.py) host ``b``
(zone b). Four sleeper jobs spread 2 + 2. Then engine b is killed (SIGKILL to its process
group, socket removed). The worker's pool marks b down; the worker reports b's attempts
``failed/host_down`` at once (the lease is 120 s here, so a re-run within it proves nobody
waited for the lease); backend makes them ``lost`` (reason ``host_down`` in the event) and
re-queues them paced ``restart_spacing_s`` apart; they re-run on a. New work avoids b while it
is down. Engine b is started again: the pool marks it up, the worker removes what the lost
attempts left there, and new work lands on b again. An outside consumer bound to
``modelport.events`` sees, per job, exactly one ``succeeded`` and the story of each loss.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from common.docker import DockerHost, DockerSettings, HostConfig, Need, Reservation
from common.docker.spec import container_name
from common.settings import S3Settings
from solve_svc.service import SolveService
from tests.e2e.platform import Platform, running_platform
from tests.e2e.runtime import E2ERuntime
from tests.ha.engine import Engine, engine
from tests.support.db_time import restart_slots
from tests.support.poll import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
SPACING_S = 2.0
HEALTH_INTERVAL_S = 0.5
PING_TIMEOUT_S = 1.0


async def _worker(p: Platform, url_b: str) -> tuple[SolveService, dict[str, list[str]]]:
    """One solve worker with host a (main engine) and host b, 4 slots each, fast health
    checks; the dict gets the hosts each container name was placed on, in order."""
    docker = DockerSettings(
        hosts=[HostConfig(name="host-a", url=p.docker_url, slots=4, zone="a"),
               HostConfig(name="host-b", url=url_b, slots=4, zone="b")],
        service=p.label, health_interval_s=HEALTH_INTERVAL_S, ping_timeout_s=PING_TIMEOUT_S)
    service = SolveService(p.solve_settings("solve-hosts"), docker=docker,
                           s3=p.stack.s3_settings, packages=p.package_settings())
    await service.start()
    p.workers.append(service)
    assert service.pool is not None
    placed: dict[str, list[str]] = {}
    reserve = service.pool.reserve

    def spy(name: str, need: Need) -> Reservation:
        reservation = reserve(name, need)
        placed.setdefault(name, []).append(reservation.host.name)
        return reservation

    service.pool.reserve = spy  # type: ignore[method-assign]
    return service, placed


def _on(placed: dict[str, list[str]], job_id: str, attempt: int) -> str:
    return placed[container_name("job", job_id, attempt)][0]


async def _left_on(url: str, label: str) -> list[str]:
    async with DockerHost(HostConfig(name="b", url=url), service=label) as host:
        return sorted(str(c["Names"][0]).lstrip("/") for c in await host.ours(all_states=True))


async def test_a_failed_host_loses_its_jobs_they_rerun_paced_elsewhere_and_it_returns(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELPORT_RESTART_SPACING_S", str(SPACING_S))
    with engine() as b:
        async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                    docker_url=docker_engine, label=label,
                                    lease_ttl_s=120.0) as p:
            service, placed = await _worker(p, b.url)
            pool = service.pool
            assert pool is not None
            case_id = await p.upload_case("sleeper", {"seconds": 12.0, "step_s": 0.2})
            jobs = [(await p.submit("sleeper", "sleep", input_case_id=case_id))["id"]
                    for _ in range(4)]
            for job_id in jobs:  # each agent runs: its container is up on its host
                await p.event(job_id, "progress", timeout_s=300)
            on_b = sorted(j for j in jobs if _on(placed, j, 1) == "host-b")
            on_a = sorted(j for j in jobs if _on(placed, j, 1) == "host-a")
            assert len(on_b) == 2 and len(on_a) == 2, placed

            b.fail()
            # down within the bound (health interval + ping timeout), with slack for a
            # loaded machine; the worker may see it even sooner through a failed call
            await until(lambda: not pool.healthy("host-b"), timeout_s=30)
            assert not any(s.healthy for s in pool.states() if s.name == "host-b")

            # new work avoids b while it is down
            extra = (await p.submit("transport"))["id"]
            for job_id in on_b:
                lost = await p.event(job_id, "lost", timeout_s=60)
                assert (lost["data"]["attempt"], lost["data"]["reason"]) == (1, "host_down")
            done = await p.settled([*jobs, extra], timeout_s=300)
            assert {j["state"] for j in done} == {"succeeded"}, done
            by_id = {j["id"]: j for j in done}
            for job_id in on_b:
                assert by_id[job_id]["attempt"] == 2
                assert _on(placed, job_id, 2) == "host-a", placed
            for job_id in on_a:
                assert by_id[job_id]["attempt"] == 1
            assert _on(placed, extra, 1) == "host-a", placed
            await _check_events(p, jobs, on_b)
            await _check_pacing(pg_dsn, p, on_b)

            # the host comes back: marked up, the lost attempts' leftovers removed, used again
            await asyncio.to_thread(b.start)
            await until(lambda: pool.healthy("host-b"), timeout_s=60)
            await until(lambda: _none_left(b, label), timeout_s=60)
            again = [(await p.submit("transport"))["id"] for _ in range(2)]
            done = await p.settled(again, timeout_s=300)
            assert {j["state"] for j in done} == {"succeeded"}, done
            assert {_on(placed, j, 1) for j in again} == {"host-a", "host-b"}, placed
            await asyncio.gather(*(w.stop() for w in p.workers))
            p.workers.clear()
            assert await _left_on(b.url, label) == []


async def _none_left(b: Engine, label: str) -> bool:
    return not await _left_on(b.url, label)


async def _check_events(p: Platform, jobs: list[str], on_b: list[str]) -> None:
    """What an outside consumer saw: every job succeeded once; b's were lost (attempt 1)
    and started again as attempt 2; a's never lost."""
    sentinel = await p.submit("transport", not_before="2999-01-01T00:00:00Z")
    await p.event(sentinel["id"], "queued")  # published after everything above
    for job_id in jobs:
        kinds = [(e["type"].rsplit(".", 1)[1], e["data"]["attempt"])
                 for e in p.events_of(job_id) if e["type"] != "modelport.job.progress"]
        assert [k for k, _ in kinds].count("succeeded") == 1, kinds
        if job_id in on_b:
            assert [k for k, _ in kinds] == ["queued", "started", "lost", "started",
                                             "succeeded"], kinds
            assert kinds[1:] == [("started", 1), ("lost", 1), ("started", 2),
                                 ("succeeded", 2)], kinds
        else:
            assert "lost" not in [k for k, _ in kinds], kinds


async def _check_pacing(pg_dsn: str, p: Platform, on_b: list[str]) -> None:
    """The two lost jobs got restart slots SPACING_S apart (not_before in the database), and
    each one's second start (the started event's time, written in the same transaction as
    the row) came at or after its slot: the restarts were staggered, not simultaneous."""
    by_id = await restart_slots(pg_dsn, "jobs", on_b)
    assert None not in by_id.values(), by_id
    order = sorted(by_id, key=by_id.__getitem__)
    assert by_id[order[1]] - by_id[order[0]] >= timedelta(seconds=SPACING_S), by_id
    for job_id in order:
        started = [e for e in p.events_of(job_id)
                   if e["type"] == "modelport.job.started" and e["data"]["attempt"] == 2]
        assert len(started) == 1
        assert datetime.fromisoformat(started[0]["time"]) >= by_id[job_id], (started, by_id)


async def test_a_host_shut_down_under_a_job_is_a_host_failure_not_the_apps_oom(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> None:
    """A dockerd shut down gracefully kills its containers (exit 137, as the OOM killer
    would) a moment before its API goes. The chaos run once saw such a job end
    ``failed/oom``; it is the host's failure: lost (``host_down``), re-run elsewhere."""
    with engine() as b:
        async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                    docker_url=docker_engine, label=label,
                                    lease_ttl_s=120.0) as p:
            service, placed = await _worker(p, b.url)
            case_id = await p.upload_case("sleeper", {"seconds": 12.0, "step_s": 0.2})
            jobs = [(await p.submit("sleeper", "sleep", input_case_id=case_id))["id"]
                    for _ in range(2)]
            for job_id in jobs:
                await p.event(job_id, "progress", timeout_s=300)
            on_b = [j for j in jobs if _on(placed, j, 1) == "host-b"]
            assert len(on_b) == 1, placed  # a batch spreads over the two zones

            await asyncio.to_thread(b.stop)
            lost = await p.event(on_b[0], "lost", timeout_s=60)
            assert (lost["data"]["attempt"], lost["data"]["reason"]) == (1, "host_down")
            done = await p.settled(jobs, timeout_s=300)
            assert {j["state"] for j in done} == {"succeeded"}, done
            assert _on(placed, on_b[0], 2) == "host-a", placed
            failed = [e for j in jobs for e in p.events_of(j)
                      if e["type"] == "modelport.job.failed"]
            assert failed == []
