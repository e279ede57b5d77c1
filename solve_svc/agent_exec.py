"""The agent run in a job container: its output streamed line by line.

In a fresh container the main process idles (``sleep infinity``) and the agent is an exec
(:class:`AgentExec`). A warm container's main process is the agent already started and
preloaded (``python -m modelport.agent serve``): it gets its run request on stdin through an
attach and its output comes back the same way (:class:`AgentServe`); an agent that speaks
serve protocol 2 also takes the inputs there and sends the result case back
(:mod:`solve_svc.serve_files`). Either way the agent's pid (from its ``started`` line) is
what an interrupt signals.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import aiohttp

from common.docker import Container, exec_run
from solve_svc.joblog import file_chunks
from solve_svc.serve_files import STALL_S, BadTransfer, ResultReceiver, frame_of

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
    is ``container``'s main process. Iterate :meth:`lines`, then read :meth:`exit_code`.

    With ``files`` and ``result`` (serve protocol 2) the inputs' tar at ``files`` follows
    the request on stdin, and ``result`` takes the result case's bytes that follow the
    ``result`` line; ``ms`` then says how long the inputs took to send (``send``)."""

    def __init__(self, container: Container, request: Mapping[str, Any],
                 files: Path | None = None, result: ResultReceiver | None = None) -> None:
        self.container, self.request = container, dict(request)
        self.files, self.result = files, result
        self.ms: dict[str, float] = {}

    async def lines(self) -> AsyncIterator[tuple[Stream, bytes]]:
        """Send the request, then yield (stream, line) until the agent (the container) exits.
        Raises BadTransfer when the result's bytes are refused."""
        handle = self.container.host.docker.containers.container(self.container.id)
        no_limit = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with handle.attach(stdin=True, stdout=True, stderr=True,
                                 timeout=no_limit) as stream:
            began = time.perf_counter()
            await self._send(stream)
            if self.files is not None:
                self.ms["send"] = (time.perf_counter() - began) * 1000
            async for item in _stream_lines(stream, self.result):
                yield item

    async def _send(self, stream: Any) -> None:
        if self.files is None:
            await stream.write_in(json.dumps(self.request).encode() + b"\n")
            return
        frame = await asyncio.to_thread(frame_of, self.files)
        request = {**self.request, "files": frame.to_json()}
        stall_s = self.result.stall_s if self.result is not None else STALL_S
        try:
            async with asyncio.timeout(stall_s):
                await stream.write_in(json.dumps(request).encode() + b"\n")
            async for chunk in file_chunks(self.files):
                async with asyncio.timeout(stall_s):
                    await stream.write_in(chunk)
        except TimeoutError:
            raise BadTransfer(f"the agent took no input for {stall_s:g} s") from None

    async def exit_code(self) -> int:
        """The agent's exit code, once the container has stopped (137 when SIGKILLed)."""
        handle = self.container.host.docker.containers.container(self.container.id)
        return int((await handle.wait())["StatusCode"])


async def _stream_lines(stream: Any, result: ResultReceiver | None = None,
                        ) -> AsyncIterator[tuple[Stream, bytes]]:
    pending: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
    while (message := await _read(stream, result)) is not None:
        if result is not None and message.stream != 2:
            for line in result.split(message.data):
                yield "stdout", line
            continue
        buf = pending.setdefault(message.stream, bytearray())
        buf.extend(message.data)
        for line in _split(buf):
            yield _name(message.stream), line
    if result is not None:
        result.finish()
        pending[1].extend(result.rest())
    for kind, buf in pending.items():
        if buf:
            yield _name(kind), bytes(buf)


async def _read(stream: Any, result: ResultReceiver | None) -> Any:
    """The next message; while a result's bytes are due, within their stall bound."""
    if result is None or not result.receiving:
        return await stream.read_out()
    try:
        async with asyncio.timeout(result.stall_s):
            return await stream.read_out()
    except TimeoutError:
        raise result.stalled() from None


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
