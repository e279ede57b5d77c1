"""Container operations against the real engine, with the runtime image."""

from __future__ import annotations

import asyncio
import io
import tarfile
import time
import uuid

import aiodocker
import pytest

from common.docker import (
    ContainerRequest,
    DockerHost,
    HostConfig,
    Limits,
    adopt_or_sweep,
    create_started,
    exec_run,
    kill,
    logs,
    put_archive,
    remove,
    wait,
)
from common.docker.containers import Container

IDLE = ["sleep", "infinity"]


def _request(service: str, image: str, cmd: list[str], **over: object) -> ContainerRequest:
    fields: dict[str, object] = dict(service=service, kind="job", id=uuid.uuid4().hex[:8],
                                     attempt=1, runtime="test", image=image, cmd=cmd,
                                     limits=Limits(memory_mb=128, pids=64))
    fields.update(over)
    return ContainerRequest(**fields)  # type: ignore[arg-type]


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


async def _start(host: DockerHost, service: str, image: str, cmd: list[str] = IDLE,
                 **over: object) -> Container:
    return await create_started(host, _request(service, image, cmd, **over))


async def test_hardening_is_applied(host: DockerHost, service: str, runtime_image: str) -> None:
    c = await _start(host, service, runtime_image)
    info = await host.docker.containers.container(c.id).show()
    hc = info["HostConfig"]
    assert info["Config"]["User"] == "10001:10001"
    assert hc["ReadonlyRootfs"] and hc["CapDrop"] == ["ALL"] and hc["NetworkMode"] == "none"
    assert hc["Memory"] == hc["MemorySwap"] == 128 * 1024 * 1024
    probe = ("import os, pathlib\n"
             "print(os.getuid())\n"
             "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
             "print(caps[0].split()[1])\n"
             "print(sorted(os.listdir('/sys/class/net')))\n"
             "pathlib.Path('/tmp/ok').write_text('tmp is writable')\n"
             "pathlib.Path('/work/ok').write_text('work is writable')\n"
             "open('/escape', 'w')\n")
    result = await exec_run(c, ["python", "-c", probe], timeout_s=20)
    uid, caps, nets = result.stdout.decode().splitlines()[:3]
    assert (uid, caps, nets) == ("10001", "0000000000000000", "['lo']")
    assert result.exit_code != 0 and b"Read-only file system" in result.stderr


async def test_oom_is_seen(host: DockerHost, service: str, runtime_image: str) -> None:
    hog = ["python", "-c", "b = b'x' * (400 * 2**20); print(len(b))"]
    c = await _start(host, service, runtime_image, hog, limits=Limits(memory_mb=64))
    status = await wait(c, timeout_s=30)
    assert status.oom_killed and status.exit_code == 137


async def test_put_archive_then_run(host: DockerHost, service: str, runtime_image: str) -> None:
    c = await _start(host, service, runtime_image)
    app = "import pathlib\nprint('hello', 6 * 7)\npathlib.Path('out.txt').write_text('done')\n"
    await put_archive(c, _tar({"app/main.py": app}))
    result = await exec_run(c, ["python", "app/main.py"], timeout_s=20)
    assert (result.exit_code, result.stdout) == (0, b"hello 42\n")
    check = await exec_run(c, ["cat", "/work/out.txt"], timeout_s=10)
    assert check.stdout == b"done"


async def test_put_archive_streamed(host: DockerHost, service: str, runtime_image: str) -> None:
    c = await _start(host, service, runtime_image)
    data = _tar({"big.txt": "x" * 3_000_000})

    async def chunks() -> object:
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    await put_archive(c, chunks())  # type: ignore[arg-type]
    result = await exec_run(c, ["python", "-c", "print(len(open('big.txt').read()))"])
    assert result.stdout == b"3000000\n"


async def test_exec_with_stdin_tar(host: DockerHost, service: str, runtime_image: str) -> None:
    c = await _start(host, service, runtime_image)
    tar_bytes = _tar({"m.py": "print('from stdin tar')\n"})
    unpacked = await exec_run(c, ["tar", "x", "-C", "/tmp"], stdin=tar_bytes, timeout_s=20)
    assert unpacked.exit_code == 0, unpacked.stderr
    result = await exec_run(c, ["python", "/tmp/m.py"], timeout_s=20)
    assert result.stdout == b"from stdin tar\n"


async def test_logs_streamed(host: DockerHost, service: str, runtime_image: str) -> None:
    script = ("import sys\nfor i in range(3):\n    print('out', i, flush=True)\n"
              "    print('err', i, file=sys.stderr, flush=True)\nprint('no newline', end='')\n")
    c = await _start(host, service, runtime_image, ["python", "-c", script])
    async with asyncio.timeout(20):
        lines = [(line.stream, line.text) async for line in logs(c)]
    assert [t for s, t in lines if s == "stdout"][:3] == ["out 0", "out 1", "out 2"]
    assert [t for s, t in lines if s == "stderr"] == ["err 0", "err 1", "err 2"]
    # Following, Docker 20.10 may end the stream before flushing a last line that lacks its
    # newline; reading after the end has it.
    await wait(c, timeout_s=10)
    after = [(line.stream, line.text) async for line in logs(c, follow=False)]
    assert after[-1] == ("stdout", "no newline") and len(after) == 7


async def test_kill_within_two_seconds(host: DockerHost, service: str,
                                       runtime_image: str) -> None:
    c = await _start(host, service, runtime_image,
                     ["python", "-c", "import time\nwhile True: time.sleep(1)"])
    started = time.monotonic()
    await kill(c)
    status = await wait(c, timeout_s=5)
    assert time.monotonic() - started < 2.0
    assert status.exit_code == 137 and not status.oom_killed
    await kill(c)  # already dead: fine


async def test_remove_is_idempotent(host: DockerHost, service: str, runtime_image: str) -> None:
    c = await _start(host, service, runtime_image)
    await remove(c)
    await remove(c)
    await kill(c)
    with pytest.raises(aiodocker.DockerError) as gone:
        await host.docker.volumes.get(c.volume)
    assert gone.value.status == 404
    assert await host.ours(all_states=True) == []


async def test_same_name_replaces_leftover(host: DockerHost, service: str,
                                           runtime_image: str) -> None:
    request = _request(service, runtime_image, IDLE)
    first = await create_started(host, request)
    second = await create_started(host, request)
    assert first.name == second.name and first.id != second.id
    assert [item["Id"] for item in await host.ours()] == [second.id]


async def test_sweep_after_restart(docker_engine: str, host: DockerHost, service: str,
                                   runtime_image: str) -> None:
    made = [await _start(host, service, runtime_image) for _ in range(3)]
    keep = made[0]
    async with DockerHost(HostConfig(name="local", url=docker_engine), service=service) as again:
        adopted = await adopt_or_sweep(again, [keep.name, "mp-job-never-started-1"])
        assert [(c.id, c.name, c.volume) for c in adopted] == [(keep.id, keep.name, keep.name)]
        left = await again.ours(all_states=True)
        assert [item["Id"] for item in left] == [keep.id]
        volumes = await again.docker.volumes.list(
            filters={"label": [f"org.modelport.service={service}"]})
        assert [v["Name"] for v in volumes["Volumes"]] == [keep.volume]


async def test_exec_exit_code(host: DockerHost, service: str, runtime_image: str) -> None:
    c = await _start(host, service, runtime_image)
    codes = [(await exec_run(c, ["python", "-c", f"raise SystemExit({n})"])).exit_code
             for n in (0, 3, 7)]
    assert codes == [0, 3, 7]


async def test_failed_create_leaves_nothing(host: DockerHost, service: str) -> None:
    missing = "sha256:" + "f" * 64
    with pytest.raises(aiodocker.DockerError):
        await create_started(host, _request(service, missing, IDLE))
    volumes = await host.docker.volumes.list(
        filters={"label": [f"org.modelport.service={service}"]})
    assert not volumes["Volumes"] and await host.ours(all_states=True) == []
