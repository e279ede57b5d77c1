"""The writable space of a container is bounded: /work is a tmpfs volume of ``work_mb``, the
root is read-only; writing past /work's size fails with ENOSPC (real engine, runtime image)."""

from __future__ import annotations

import io
import tarfile

from common.docker import DockerHost, Limits, exec_run, put_archive, remove
from tests.docker.test_containers import IDLE, _start

FILL = ("import errno, os\n"
        "total = 0\n"
        "try:\n"
        "    with open('/work/fill', 'wb') as f:\n"
        "        for _ in range(64):\n"
        "            f.write(b'x' * 2**20); f.flush(); total += 2**20\n"
        "except OSError as exc:\n"
        "    print('errno', exc.errno, errno.errorcode[exc.errno])\n"
        "print('wrote', total)\n"
        "st = os.statvfs('/work')\n"
        "print('size', st.f_blocks * st.f_frsize)\n")


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


async def test_writing_past_the_work_limit_fails_with_enospc(
    host: DockerHost, service: str, runtime_image: str
) -> None:
    c = await _start(host, service, runtime_image, IDLE,
                     limits=Limits(memory_mb=128, pids=64, work_mb=8))
    try:
        await put_archive(c, _tar("input.txt", b"the worker's files still go in"))
        result = await exec_run(c, ["python", "-c", FILL], timeout_s=30)
        lines = dict(line.split(" ", 1) for line in result.stdout.decode().splitlines())
        assert lines["errno"] == "28 ENOSPC", result.stderr
        assert int(lines["wrote"]) < 8 * 2**20 and lines["size"] == str(8 * 2**20)
        read = await exec_run(c, ["cat", "/work/input.txt"], timeout_s=20)
        assert read.stdout == b"the worker's files still go in"
        escape = await exec_run(c, ["sh", "-c", "echo x > /var/x"], timeout_s=20)
        assert escape.exit_code != 0 and b"Read-only file system" in escape.stderr
    finally:
        await remove(c)


async def test_the_work_volume_is_a_sized_tmpfs(
    host: DockerHost, service: str, runtime_image: str
) -> None:
    c = await _start(host, service, runtime_image, IDLE, limits=Limits(memory_mb=128, work_mb=3))
    try:
        volume = await host.docker.volumes.get(c.volume)
        info = await volume.show()
        assert info["Options"]["type"] == "tmpfs" and "size=3m" in info["Options"]["o"]
        mounts = await exec_run(c, ["sh", "-c", "grep ' /work ' /proc/mounts"], timeout_s=20)
        assert mounts.stdout.split()[2] == b"tmpfs", mounts.stdout
    finally:
        await remove(c)
    assert c.volume not in [v["Name"] for v in
                            (await host.docker.volumes.list())["Volumes"] or []]
