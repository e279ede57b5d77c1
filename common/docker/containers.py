"""Container operations on one host: create+start, files in, exec, logs, wait, kill, remove,
and reconciling after a restart. Every stop/remove is idempotent: 404 means done."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import aiodocker
import structlog
from aiodocker.containers import DockerContainer
from aiodocker.volumes import DockerVolume

from common.docker.errors import ExecTimeout
from common.docker.host import DockerHost
from common.docker.spec import OWNER, SERVICE, ContainerRequest, container_spec, volume_spec

log = structlog.get_logger(__name__)
Body = bytes | AsyncIterator[bytes]


@dataclass(frozen=True)
class Container:
    """A container we started (or adopted) on ``host``; ``volume`` is its /work volume."""

    host: DockerHost
    id: str
    name: str
    volume: str
    serving: bool = False  # its main process is a waiting agent (``serve``)
    serve_protocol: int = 1  # the serve protocol that agent speaks (docs/agent.md)


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int
    oom_killed: bool


@dataclass(frozen=True)
class LogLine:
    stream: Literal["stdout", "stderr"]
    text: str


def _gone(exc: aiodocker.DockerError) -> bool:
    return exc.status == 404


async def create_started(host: DockerHost, request: ContainerRequest) -> Container:
    """Create the /work volume and the hardened container for ``request`` and start it.

    A leftover container under the same name (an earlier try of this attempt) is removed
    first. Raises aiodocker.DockerError for engine refusals, UnsafeSpec for a bad request.
    """
    spec = container_spec(request)
    await host.docker.volumes.create(volume_spec(request))
    try:
        made = await _create(host, spec, request.name)
    except BaseException:
        await asyncio.shield(_delete_volume(host, request.name, in_use_ok=True))
        raise
    container = Container(host, made.id, request.name, request.name)
    try:
        await made.start()
    except BaseException:
        await asyncio.shield(remove(container))
        raise
    return container


async def _create(host: DockerHost, spec: dict[str, Any], name: str) -> DockerContainer:
    try:
        return await host.docker.containers.create(spec, name=name)
    except aiodocker.DockerError as exc:
        if exc.status != 409:
            raise
    log.warning("docker_name_taken", container=name)
    await _delete_container(host, name)
    return await host.docker.containers.create(spec, name=name)


async def put_archive(container: Container, tar: Body, path: str = "/work") -> None:
    """Unpack the tar ``tar`` (bytes or a stream of chunks) at ``path`` inside the /work
    volume. Raises aiodocker.DockerError when the engine refuses."""
    async with container.host.docker._query(
        f"containers/{container.id}/archive", method="PUT", params={"path": path},
        data=tar, headers={"Content-Type": "application/x-tar"},
    ):
        pass


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


async def exec_run(
    container: Container, cmd: list[str], *, stdin: Body | None = None,
    timeout_s: float | None = None,
) -> ExecResult:
    """Run ``cmd`` in the container as its user, feeding ``stdin`` (then EOF) if given.

    Returns the exit code and all output; raises ExecTimeout after ``timeout_s`` (the exec's
    process keeps running: kill the container to end it).
    """
    made = await container.host.docker.containers.container(container.id).exec(
        cmd, stdin=stdin is not None, user="", workdir="/work"
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await _drive(made.start(detach=False), stdin)
    except TimeoutError:
        raise ExecTimeout(f"exec {cmd[0]!r} ran over {timeout_s} s") from None
    return ExecResult(await _exit_code(made), out, err)


async def _exit_code(made: Any) -> int:
    """The exec's exit code. The output can end a moment before the engine records the exit,
    so ask again a few times (bounded) while it still says running."""
    for delay in (0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
        await asyncio.sleep(delay)
        info = await made.inspect()
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
    raise ExecTimeout("exec output ended but the engine reports no exit code")


async def _drive(stream: Any, stdin: Body | None) -> tuple[bytes, bytes]:
    out, err = bytearray(), bytearray()
    async with stream:
        if stdin is not None:
            await _feed(stream, stdin)
        while (message := await stream.read_out()) is not None:
            (out if message.stream == 1 else err).extend(message.data)
    return bytes(out), bytes(err)


async def _feed(stream: Any, stdin: Body) -> None:
    if isinstance(stdin, bytes):
        await stream.write_in(stdin)
    else:
        async for chunk in stdin:
            await stream.write_in(chunk)
    # Half-close: the process sees EOF on stdin while we keep reading its output.
    stream._resp.connection.transport.write_eof()


async def logs(container: Container, *, follow: bool = True) -> AsyncIterator[LogLine]:
    """The container's output as lines, stdout and stderr apart, until it ends (``follow``)
    or up to now. A line split across frames is joined; a last line without newline is kept."""
    params = {"stdout": "1", "stderr": "1", "follow": "1" if follow else "0"}
    async with container.host.docker._query(
        f"containers/{container.id}/logs", params=params, timeout=None,
    ) as reply:
        pending = {1: bytearray(), 2: bytearray()}
        while (header := await _frame_header(reply.content)) is not None:
            kind, size = header
            buf = pending.setdefault(kind, bytearray())
            buf.extend(await reply.content.readexactly(size))
            for line in _split(buf):
                yield LogLine("stderr" if kind == 2 else "stdout", line)
        for kind, buf in pending.items():
            if buf:
                yield LogLine("stderr" if kind == 2 else "stdout", buf.decode(errors="replace"))


async def _frame_header(content: Any) -> tuple[int, int] | None:
    try:
        header = await content.readexactly(8)
    except asyncio.IncompleteReadError:
        return None
    kind, size = struct.unpack(">BxxxL", header)
    return int(kind), int(size)


def _split(buf: bytearray) -> Iterable[str]:
    while (end := buf.find(b"\n")) >= 0:
        line = bytes(buf[:end])
        del buf[: end + 1]
        yield line.decode(errors="replace")


async def wait(container: Container, timeout_s: float | None = None) -> ExitStatus:
    """Wait for the container to stop; return its exit code and whether the kernel killed it
    for memory. Raises ExecTimeout after ``timeout_s`` (the container keeps running)."""
    handle = container.host.docker.containers.container(container.id)
    try:
        async with asyncio.timeout(timeout_s):
            await handle.wait()
    except TimeoutError:
        raise ExecTimeout(f"{container.name} still running after {timeout_s} s") from None
    state = (await handle.show())["State"]
    return ExitStatus(int(state.get("ExitCode", -1)), bool(state.get("OOMKilled")))


async def kill(container: Container) -> None:
    """SIGKILL the container; a container already stopped or gone counts as killed."""
    try:
        await container.host.docker.containers.container(container.id).kill()
    except aiodocker.DockerError as exc:
        if exc.status not in (404, 409):
            raise


async def remove(container: Container) -> None:
    """Remove the container (killing it) and its /work volume; missing ones count as removed."""
    await _delete_container(container.host, container.id)
    await _delete_volume(container.host, container.volume)
    log.info("docker_removed", host=container.host.name, container=container.name)


async def _delete_container(host: DockerHost, ref: str) -> None:
    try:
        await host.docker.containers.container(ref).delete(force=True, v=True)
    except aiodocker.DockerError as exc:
        if not _gone(exc) and "already in progress" not in str(exc):
            raise


async def _delete_volume(host: DockerHost, name: str, *, in_use_ok: bool = False) -> None:
    try:
        await DockerVolume(host.docker, name).delete()
    except aiodocker.DockerError as exc:
        if not (_gone(exc) or (in_use_ok and exc.status == 409)):
            raise


def _volume_of(item: dict[str, Any]) -> str:
    for mount in item.get("Mounts") or []:
        if mount.get("Type") == "volume" and mount.get("Destination") == "/work":
            return str(mount.get("Name"))
    return ""


def found(host: DockerHost, item: dict[str, Any]) -> Container:
    """The :class:`Container` of a container summary from the list API."""
    name = str((item.get("Names") or ["/"])[0]).lstrip("/")
    return Container(host, str(item["Id"]), name, _volume_of(item) or name)


async def sweep_owned(host: DockerHost, owner: str, *, keep: Iterable[str] = ()) -> list[str]:
    """Remove every container of ``owner`` (label OWNER, any state) on this host with its
    volume, except those named in ``keep``, plus ``owner``'s volumes no container uses;
    return the removed names. Containers of other owners are not touched, whatever their
    state."""
    removed = []
    kept = set(keep)
    for item in await host.ours(all_states=True, owner=owner):
        container = found(host, item)
        if container.name in kept:
            continue
        log.warning("docker_orphan_removed", host=host.name, container=container.name)
        await remove(container)
        removed.append(container.name)
    listed = await host.docker.volumes.list(
        filters={"label": [f"{SERVICE}={host.service}", f"{OWNER}={owner}"]})
    for volume in listed.get("Volumes") or []:
        await _delete_volume(host, volume["Name"], in_use_ok=True)
    return removed


async def adopt_or_sweep(host: DockerHost, expected_names: Iterable[str]) -> list[Container]:
    """After a restart: return our containers whose names are expected (by backend's state)
    and remove every other one of our service on this host, with its volume, plus our
    volumes that no container uses any more."""
    expected = set(expected_names)
    adopted: list[Container] = []
    for item in await host.ours(all_states=True):
        container = found(host, item)
        if container.name in expected:
            adopted.append(container)
        else:
            log.warning("docker_orphan_removed", host=host.name, container=container.name)
            await remove(container)
    await _sweep_volumes(host, {c.volume for c in adopted})
    return adopted


async def _sweep_volumes(host: DockerHost, keep: set[str]) -> None:
    listed = await host.docker.volumes.list(filters={"label": [f"{SERVICE}={host.service}"]})
    for volume in listed.get("Volumes") or []:
        if volume["Name"] not in keep:
            await _delete_volume(host, volume["Name"], in_use_ok=True)
