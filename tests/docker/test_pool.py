"""HostPool: health, counting, placement and reservations over two configured hosts (both on
the local engine, with different names and capacities) plus one that never answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.docker import (
    ContainerRequest,
    DockerSettings,
    HostConfig,
    HostPool,
    Limits,
    Need,
    NoCapacity,
    adopt_or_sweep,
    create_started,
)


@pytest.fixture
async def pool(docker_engine: str, service: str, tmp_path: Path) -> AsyncIterator[HostPool]:
    settings = DockerSettings(
        service=service, health_interval_s=3600, ping_timeout_s=1,
        hosts=[HostConfig(name="big", url=docker_engine, slots=3, memory_mb=4096),
               HostConfig(name="small", url=docker_engine, slots=1, memory_mb=1024),
               HostConfig(name="dead", url=f"unix://{tmp_path}/none.sock", slots=10,
                          memory_mb=99999)])
    async with HostPool(settings) as p:
        try:
            yield p
        finally:
            await adopt_or_sweep(p.host("big"), [])  # both live hosts are the same engine


def _by_name(pool: HostPool) -> dict[str, tuple[bool, int, int]]:
    return {s.name: (s.healthy, s.used_slots, s.used_memory_mb) for s in pool.states()}


async def test_health(pool: HostPool) -> None:
    assert {n: h for n, (h, _, _) in _by_name(pool).items()} == {
        "big": True, "small": True, "dead": False}


async def test_placement_fills_least_loaded_and_never_overbooks(pool: HostPool) -> None:
    placed = [pool.reserve(f"mp-job-r{i}-1", Need(memory_mb=512)) for i in range(4)]
    # big 0/3 → big; big 1/3 vs small 0/1 → small; then big, big
    assert [r.host.name for r in placed] == ["big", "small", "big", "big"]
    with pytest.raises(NoCapacity):
        pool.reserve("mp-job-r9-1", Need(memory_mb=512))
    placed[1].release()
    placed[1].release()  # twice is harmless
    assert pool.reserve("mp-job-r9-1", Need(memory_mb=512)).host.name == "small"


async def test_memory_limits_placement(pool: HostPool) -> None:
    assert pool.reserve("mp-job-m1-1", Need(memory_mb=2000)).host.name == "big"
    with pytest.raises(NoCapacity):
        pool.reserve("mp-job-m2-1", Need(memory_mb=3000))


async def test_running_containers_count(pool: HostPool, service: str,
                                        runtime_image: str) -> None:
    big = pool.host("big")
    request = ContainerRequest(service, "job", uuid.uuid4().hex[:8], 1, "t", runtime_image,
                               ["sleep", "infinity"], Limits(memory_mb=300))
    with pool.reserved(request.name, Need(300)) as reservation:
        assert reservation.host is big
        await create_started(big, request)
        await pool.refresh()
        # the reserved container is counted once, not as reservation + engine count
        assert _by_name(pool)["big"] == (True, 1, 300)
    # released but still running: seen by the engine count (both hosts share one engine)
    assert _by_name(pool)["big"] == (True, 1, 300)
    assert _by_name(pool)["small"] == (True, 1, 300)
    # small (1 slot) is full, big has 2 slots and 3796 MB left
    assert pool.reserve("mp-job-y-1", Need(3796)).host.name == "big"
    with pytest.raises(NoCapacity):
        pool.reserve("mp-job-z-1", Need(1))


async def test_concurrent_reservations(pool: HostPool) -> None:
    async def place(i: int) -> str:
        await asyncio.sleep(0)
        try:
            return pool.reserve(f"mp-job-c{i}-1", Need(100)).host.name
        except NoCapacity:
            return "-"

    names = await asyncio.gather(*(place(i) for i in range(10)))
    assert sorted(names) == ["-"] * 6 + ["big"] * 3 + ["small"]
