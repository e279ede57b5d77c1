"""WarmPool: idle containers per runtime, acquire, refill, never reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from common.docker import DockerHost, Limits, WarmPool, exec_run, put_archive, remove
from tests.docker.test_containers import _tar

LIMITS = Limits(memory_mb=256)


@pytest.fixture
async def warm(host: DockerHost, runtime_image: str) -> AsyncIterator[WarmPool]:
    pool = WarmPool(host, size=2, limits=LIMITS)
    pool.add_runtime("rt1", runtime_image)
    try:
        async with asyncio.timeout(30):
            await pool.wait_filled("rt1")
        yield pool
    finally:
        await pool.close()


async def _idle_ids(host: DockerHost) -> set[str]:
    return {i["Id"] for i in await host.ours() if i["Names"][0].startswith("/mp-warm-")}


async def test_acquire_refill_never_reuse(warm: WarmPool, host: DockerHost, service: str,
                                          runtime_image: str) -> None:
    first_idle = await _idle_ids(host)
    assert len(first_idle) == 2
    taken = await warm.acquire("rt1", runtime_image, kind="job", id="w1", attempt=1,
                               service=service)
    assert taken.id in first_idle and taken.name == "mp-job-w1-1"
    await put_archive(taken, _tar({"main.py": "print('warm', 1 + 1)\n"}))
    result = await exec_run(taken, ["python", "main.py"], timeout_s=20)
    assert result.stdout == b"warm 2\n"
    async with asyncio.timeout(30):
        await warm.wait_filled("rt1")
    refilled = await _idle_ids(host)
    assert len(refilled) == 2 and taken.id not in refilled
    await remove(taken)
    async with asyncio.timeout(30):
        await warm.wait_filled("rt1")
    assert taken.id not in await _idle_ids(host)


async def test_empty_pool_starts_fresh(warm: WarmPool, host: DockerHost, service: str,
                                       runtime_image: str) -> None:
    got = [await warm.acquire("rt1", runtime_image, kind="job", id=f"e{i}", attempt=1,
                              service=service) for i in range(3)]
    assert len({c.id for c in got}) == 3
    other = await warm.acquire("rt2", runtime_image, kind="session", id="s1", attempt=0,
                               service=service)
    assert other.name == "mp-session-s1-0"
    bigger = await warm.acquire("rt1", runtime_image, kind="job", id="big", attempt=1,
                                service=service, limits=Limits(memory_mb=512))
    info = await host.docker.containers.container(bigger.id).show()
    assert info["HostConfig"]["Memory"] == 512 * 1024 * 1024


async def test_dead_idle_container_is_skipped(warm: WarmPool, host: DockerHost,
                                              service: str, runtime_image: str) -> None:
    victim = next(iter(await _idle_ids(host)))
    await host.docker.containers.container(victim).kill()
    await host.docker.containers.container(victim).wait()
    got = [await warm.acquire("rt1", runtime_image, kind="job", id=f"d{i}", attempt=1,
                              service=service) for i in range(2)]
    assert victim not in {c.id for c in got}
    running = [(await host.docker.containers.container(c.id).show())["State"]["Running"]
               for c in got]
    assert running == [True, True]


async def test_close_removes_idle(host: DockerHost, runtime_image: str) -> None:
    pool = WarmPool(host, size=2, limits=LIMITS)
    pool.add_runtime("rt1", runtime_image)
    async with asyncio.timeout(30):
        await pool.wait_filled("rt1", 1)
    await pool.close()  # possibly while the second one is starting
    assert await host.ours(all_states=True) == []
    volumes = await host.docker.volumes.list(
        filters={"label": [f"org.modelport.service={host.service}"]})
    assert not volumes["Volumes"]


@pytest.mark.parametrize(("label", "serving"), [("org.modelport.agent.serve", True),
                                                ("org.modelport.test.absent", False)])
async def test_a_fresh_container_serves_when_its_agent_takes_files_on_stdin(
    host: DockerHost, service: str, runtime_image: str, label: str, serving: bool,
) -> None:
    """With serve protocol 2 (the image's label) a fresh container's main process is the
    serving agent too, on a tmpfs /work; an image without the label idles for an exec."""
    pool = WarmPool(host, size=0, limits=LIMITS, serve_cmd=["sleep", "300"],
                    protocol_label=label)
    got = await pool.acquire("rt1", runtime_image, kind="job", id=f"f{int(serving)}",
                             attempt=1, service=service)
    try:
        assert (got.serving, got.serve_protocol) == (serving, 2 if serving else 1)
        info = await host.docker.containers.container(got.id).show()
        assert info["Config"]["Cmd"] == (["sleep", "300"] if serving else ["sleep", "infinity"])
        assert info["Config"]["OpenStdin"] is serving
        volume = await (await host.docker.volumes.get(got.volume)).show()
        assert (volume.get("Options") or {}).get("type") == "tmpfs"
    finally:
        await remove(got)
