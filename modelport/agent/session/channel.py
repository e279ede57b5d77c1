"""The control channel over stdin/stdout (docs/agent.md §4), as the agent's side sees it.

``ControlChannel`` writes whole lines to the protocol stream (one writer at a time, large
lines off the event loop), reads the host's lines from a file descriptor on a thread, and
routes them: replies complete pending requests, ``job`` lines go to the session, commands
to the ``on_command`` callback. Lines that are no message are noted on stderr and skipped.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import BinaryIO

from pydantic import BaseModel

from modelport.agent.lines import LineWriter
from modelport.agent.session.platform import Platform, PlatformError
from modelport.agent.session_protocol import (
    MAX_LINE_BYTES,
    HostMessage,
    JobEvent,
    LogMessage,
    Reply,
    RequestMessage,
    encode,
    parse_host_line,
    read_lines,
)

REQUEST_TIMEOUT_S = 60.0
READ_CHUNK = 1 << 16
INLINE_WRITE_BYTES = 64 * 1024

CommandHandler = Callable[[HostMessage], Awaitable[None]]


class ControlChannel(Platform):
    """The agent's end of the channel: requests out, replies, job news and commands in."""

    def __init__(self, out: BinaryIO, in_fd: int, *,
                 request_timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        super().__init__()
        self._out = LineWriter(out)
        self._in_fd = in_fd
        self._timeout_s = request_timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self.on_command: CommandHandler | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self.closed = asyncio.Event()

    # -- writing ------------------------------------------------------------------------

    def send_now(self, message: BaseModel) -> None:
        """Write one small message from the loop (or any thread); OSError when gone."""
        self._out.write(encode(message))

    async def send(self, message: BaseModel) -> None:
        """Write one message; big lines are written on a thread so the loop keeps going."""
        line = encode(message)
        if len(line) <= INLINE_WRITE_BYTES:
            self.send_now(message)
            return
        await asyncio.to_thread(self._out.write, line)

    def log(self, line: str, source: str = "agent") -> None:
        """A log line for the host; dropped silently when the stream is gone."""
        try:
            for part in line.splitlines() or [""]:
                self.send_now(LogMessage(line=part, source=source))
        except (OSError, ValueError):
            pass

    # -- requests -----------------------------------------------------------------------

    async def call(self, method: str, params: BaseModel) -> dict[str, object]:
        request_id = f"r{next(self._ids)}"
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.send(RequestMessage(id=request_id, method=method,
                                           params=params.model_dump()))
            reply = await asyncio.wait_for(future, self._timeout_s)
        except TimeoutError:
            raise PlatformError("timeout", f"{method}: no reply within "
                                           f"{self._timeout_s:g} s") from None
        except OSError as exc:
            raise PlatformError("unavailable", f"{method}: the host is gone ({exc})") from None
        finally:
            self._pending.pop(request_id, None)
        if not reply.ok:
            error = reply.error
            raise PlatformError(error.code if error else "internal",
                                error.message if error else f"{method} failed")
        return dict(reply.result or {})

    # -- reading ------------------------------------------------------------------------

    async def run(self) -> None:
        """Read and route the host's lines until EOF; then set ``closed``."""
        reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._pump, args=(loop, reader), daemon=True,
                         name="control-channel").start()
        try:
            async for line in read_lines(reader):
                await self._route(line)
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(PlatformError("unavailable", "the host is gone"))

    def _pump(self, loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := os.read(self._in_fd, READ_CHUNK):
                loop.call_soon_threadsafe(reader.feed_data, chunk)
        except OSError:
            pass
        loop.call_soon_threadsafe(reader.feed_eof)

    async def _route(self, line: bytes) -> None:
        if not line.strip():
            return
        message = parse_host_line(line)
        if message is None:
            print(f"session: ignored a line that is no message: {line[:200]!r}", file=sys.stderr)
        elif isinstance(message, Reply):
            future = self._pending.get(message.id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, JobEvent):
            self._spawn(self.job_event(message))
        elif self.on_command is not None:
            self._spawn(self.on_command(message))

    def _spawn(self, work: Awaitable[None]) -> None:
        """Handle a line on its own task: a handler may wait for replies this loop reads.
        Tasks start in arrival order, so each handler's first step sees lines in order."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
