"""The control channel to one session's agent: JSON lines on its stdin and stdout
(``modelport.agent.session_protocol``), over a Docker attach (a warm container, whose main
process is the waiting agent) or an exec (a fresh container, whose main process idles).

:class:`ControlChannel` reads the agent's lines in a task: ``ready``/``error`` settle
:meth:`wait_ready`, ``pong`` answers :meth:`ping`, ``stopped`` settles :meth:`wait_stopped`,
each ``request`` is handed to ``on_request`` (in its own task) and its reply written back.
:attr:`closed` is set when the agent's output ends (it exited, or the container died).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import structlog
from pydantic import BaseModel

from common.docker import Container
from modelport.agent.session_protocol import (
    MAX_LINE_BYTES,
    LogMessage,
    PingCommand,
    PongEvent,
    ReadyEvent,
    Reply,
    RequestMessage,
    StartError,
    StoppedEvent,
    encode,
    parse_agent_line,
)

log = structlog.get_logger(__name__)
AGENT_SESSION = ("python", "-m", "modelport.agent", "session")
OnRequest = Callable[[RequestMessage], Awaitable[Reply]]


class AgentStartFailed(Exception):
    """The agent answered ``error`` to ``start`` or ended before ``ready``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class ControlChannel:
    """One agent's stdin/stdout. Use :meth:`open`, then :meth:`send` and the waits."""

    def __init__(self, on_request: OnRequest, command: Sequence[str] = AGENT_SESSION) -> None:
        self._on_request = on_request
        self._command = list(command)
        self._stream: Any = None
        self._ctx: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[ReadyEvent] = asyncio.get_running_loop().create_future()
        self._stopped: asyncio.Future[StoppedEvent] = asyncio.get_running_loop().create_future()
        self._pongs: dict[str, asyncio.Future[PongEvent]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._write = asyncio.Lock()
        self.closed = asyncio.Event()

    async def open(self, container: Container) -> None:
        """Attach to the serving agent, or start it by an exec in a fresh container."""
        handle = container.host.docker.containers.container(container.id)
        no_limit = aiohttp.ClientTimeout(total=None, sock_read=None)
        if container.serving:
            self._ctx = handle.attach(stdin=True, stdout=True, stderr=True, timeout=no_limit)
        else:
            made = await handle.exec(self._command, stdin=True, workdir="/work")
            self._ctx = made.start(detach=False, timeout=no_limit)
        self._stream = await self._ctx.__aenter__()
        self._reader = asyncio.create_task(self._read(), name=f"control-{container.name}")

    async def close(self) -> None:
        """Stop reading and drop the connection (the agent sees EOF on stdin)."""
        for task in [*self._tasks, *([self._reader] if self._reader else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._reader] if self._reader else [])]:
            with contextlib.suppress(BaseException):
                await task
        if self._ctx is not None:
            with contextlib.suppress(Exception):
                await self._ctx.__aexit__(None, None, None)
            self._ctx = None
        self.closed.set()

    async def send(self, message: BaseModel) -> None:
        """Write one line to the agent; raises ConnectionError once the channel is closed."""
        if self.closed.is_set() or self._stream is None:
            raise ConnectionError("the agent's control channel is closed")
        async with self._write:
            await self._stream.write_in(encode(message))

    async def wait_ready(self, timeout_s: float) -> ReadyEvent:
        """The ``ready`` line; raises AgentStartFailed, TimeoutError."""
        async with asyncio.timeout(timeout_s):
            return await asyncio.shield(self._ready)

    async def wait_stopped(self, timeout_s: float) -> StoppedEvent | None:
        """The ``stopped`` line, or None when the agent ended or time ran out without it."""
        closed: asyncio.Future[object] = asyncio.ensure_future(self.closed.wait())
        stopped: asyncio.Future[object] = self._stopped  # type: ignore[assignment]
        try:
            await asyncio.wait({stopped, closed}, timeout=timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        return self._stopped.result() if self._stopped.done() else None

    async def ping(self, timeout_s: float) -> PongEvent | None:
        """The agent's ``pong`` (its idle time), or None when it does not answer in time."""
        ping_id = uuid.uuid4().hex[:12]
        future: asyncio.Future[PongEvent] = asyncio.get_running_loop().create_future()
        self._pongs[ping_id] = future
        try:
            await self.send(PingCommand(id=ping_id))
            async with asyncio.timeout(timeout_s):
                return await future
        except (TimeoutError, ConnectionError):
            return None
        finally:
            self._pongs.pop(ping_id, None)

    async def _read(self) -> None:
        try:
            async for line in _stdout_lines(self._stream):
                self._on_line(line)
        except Exception as exc:  # the connection broke: same as the agent ending
            log.info("control_channel_broken", error=repr(exc))
        finally:
            if not self._ready.done():
                self._ready.set_exception(AgentStartFailed(
                    "internal", "the session's agent ended before it was ready"))
                self._ready.exception()  # retrieved: no "never retrieved" warning
            self.closed.set()

    def _on_line(self, line: bytes) -> None:
        message = parse_agent_line(line)
        if isinstance(message, RequestMessage):
            task = asyncio.create_task(self._answer(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(message, PongEvent):
            future = self._pongs.get(message.id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, ReadyEvent):
            if not self._ready.done():
                self._ready.set_result(message)
        elif isinstance(message, StartError):
            if not self._ready.done():
                self._ready.set_exception(AgentStartFailed(message.reason, message.message))
        elif isinstance(message, StoppedEvent):
            if not self._stopped.done():
                self._stopped.set_result(message)
        elif isinstance(message, LogMessage):
            log.info("agent_log", source=message.source, line=message.line[:2000])

    async def _answer(self, request: RequestMessage) -> None:
        reply = await self._on_request(request)
        with contextlib.suppress(ConnectionError):
            await self.send(reply)


async def _stdout_lines(stream: Any) -> AsyncIterator[bytes]:
    """Complete stdout lines (stderr is logged); a line over MAX_LINE_BYTES is skipped."""
    pending = bytearray()
    skipping = False
    while (frame := await stream.read_out()) is not None:
        if frame.stream == 2:
            log.info("agent_stderr", text=bytes(frame.data).decode(errors="replace")[:2000])
            continue
        pending += frame.data
        while (end := pending.find(b"\n")) >= 0:
            line = bytes(pending[:end])
            del pending[: end + 1]
            if not skipping:
                yield line
            skipping = False
        if len(pending) > MAX_LINE_BYTES:
            pending.clear()
            skipping = True
