"""The agent run in a job container: its output streamed line by line.

In a fresh container the main process idles (``sleep infinity``) and the agent is an exec
(:class:`AgentExec`). A warm container's main process is the agent already started and
preloaded (``python -m modelport.agent serve``): it gets its run request on stdin through an
attach and its output comes back the same way (:class:`AgentServe`). Either way the agent's
pid (from its ``started`` line) is what an interrupt signals.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import aiohttp

from common.docker import Container, exec_run

Stream = Literal["stdout", "stderr"]
MAX_LINE = 1 << 20  # a longer line is cut into pieces: a runaway app cannot fill memory
AGENT_SERVE = ("python", "-m", "modelport.agent", "serve")


class AgentExec:
    """One exec of ``cmd`` in ``container``. Iterate :meth:`lines`, then read :meth:`exit_code`."""

    def __init__(self, container: Container, cmd: Sequence[str],
                 env: Mapping[str, str] | None = None) -> None:
        self.container, self.cmd, self.env = container, list(cmd), dict(env or {})
        self._exec: Any = None

    async def lines(self) -> AsyncIterator[tuple[Stream, bytes]]:
        """Yield (stream, line without newline) as the agent writes them, until it exits."""
        handle = self.container.host.docker.containers.container(self.container.id)
        self._exec = await handle.exec(self.cmd, environment=self.env, workdir="/work")
        no_limit = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self._exec.start(detach=False, timeout=no_limit) as stream:
            async for item in _stream_lines(stream):
                yield item

    async def exit_code(self) -> int:
        """The exec's exit code (137 when it was SIGKILLed). The output can end a moment
        before the engine records the exit, so ask again a few times (bounded)."""
        for delay in (0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
            await asyncio.sleep(delay)
            info = await self._exec.inspect()
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
        return -1


class AgentServe:
    """The run ``request`` (the ``serve`` request object) handed to the waiting agent that
    is ``container``'s main process. Iterate :meth:`lines`, then read :meth:`exit_code`."""

    def __init__(self, container: Container, request: Mapping[str, Any]) -> None:
        self.container, self.request = container, dict(request)

    async def lines(self) -> AsyncIterator[tuple[Stream, bytes]]:
        """Send the request, then yield (stream, line) until the agent (the container) exits."""
        handle = self.container.host.docker.containers.container(self.container.id)
        no_limit = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with handle.attach(stdin=True, stdout=True, stderr=True,
                                 timeout=no_limit) as stream:
            await stream.write_in(json.dumps(self.request).encode() + b"\n")
            async for item in _stream_lines(stream):
                yield item

    async def exit_code(self) -> int:
        """The agent's exit code, once the container has stopped (137 when SIGKILLed)."""
        handle = self.container.host.docker.containers.container(self.container.id)
        return int((await handle.wait())["StatusCode"])


async def _stream_lines(stream: Any) -> AsyncIterator[tuple[Stream, bytes]]:
    pending: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
    while (message := await stream.read_out()) is not None:
        buf = pending.setdefault(message.stream, bytearray())
        buf.extend(message.data)
        for line in _split(buf):
            yield _name(message.stream), line
    for kind, buf in pending.items():
        if buf:
            yield _name(kind), bytes(buf)


def _name(kind: int) -> Stream:
    return "stderr" if kind == 2 else "stdout"


def _split(buf: bytearray) -> list[bytes]:
    lines = []
    while (end := buf.find(b"\n")) >= 0 or len(buf) > MAX_LINE:
        cut = end if 0 <= end <= MAX_LINE else MAX_LINE
        lines.append(bytes(buf[:cut]))
        del buf[: cut + (1 if cut == end else 0)]
    return lines


async def signal_process(container: Container, pid: int, signal: str = "USR1") -> None:
    """Send ``signal`` to process ``pid`` inside the container (as the container's user)."""
    result = await exec_run(container, ["sh", "-c", f"kill -{signal} {int(pid)}"], timeout_s=5)
    if result.exit_code != 0:
        raise RuntimeError(f"kill -{signal} {pid} failed: {result.stderr.decode()[:200]}")
