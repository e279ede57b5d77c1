"""Services run as real subprocesses for the tests, with their JSON log lines watched.

Waiting is event-driven: a reader task parses each log line and wakes whoever waits for a
given ``event``; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class ServiceProcess:
    """``python -m <module>`` with the given environment; stderr parsed as JSON log lines."""

    module: str
    env: Mapping[str, str]
    args: tuple[str, ...] = ()
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    _proc: asyncio.subprocess.Process | None = None
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self) -> None:
        env = {**os.environ, "MODELPORT_LOG_FORMAT": "json", **self.env}
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, *self.args, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        async for line in self._proc.stderr:
            text = line.decode(errors="replace").rstrip()
            self.raw.append(text)
            try:
                event = json.loads(text)
            except ValueError:
                continue
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    async def wait_for_event(self, name: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
        """The first log line whose ``event`` is ``name``; TimeoutError with the log if none."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if e.get("event") == name), None)

        async def wait() -> dict[str, Any]:
            async with self._changed:
                await self._changed.wait_for(lambda: found() is not None or self.exited)
            event = found()
            if event is None:
                raise AssertionError(f"{self.module} exited before {name!r}:\n{self.log_tail()}")
            return event

        try:
            return await asyncio.wait_for(wait(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"no {name!r} within {timeout_s} s:\n{self.log_tail()}") from None

    @property
    def exited(self) -> bool:
        return self._reader is not None and self._reader.done()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.raw[-lines:])

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        assert self._proc is not None
        self._proc.send_signal(sig)

    async def wait(self, *, timeout_s: float = 30.0) -> int:
        """Exit status, once the process has ended and its log is read."""
        assert self._proc is not None and self._reader is not None
        code = await asyncio.wait_for(self._proc.wait(), timeout_s)
        await asyncio.wait_for(self._reader, timeout_s)
        return code

    async def kill(self) -> None:
        """Make sure the process is gone (used in teardown)."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        if self._reader is not None:
            await self._reader


async def readyz(port: int) -> int:
    """Status of ``GET /readyz`` on a loopback port."""
    async with aiohttp.ClientSession() as http, http.get(
        f"http://127.0.0.1:{port}/readyz"
    ) as response:
        return response.status


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


async def run_cli(*args: str, env: Mapping[str, str], timeout_s: float = 60.0) -> CliResult:
    """Run ``python -m modelport ARGS`` with ``env`` added; its exit status and output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelport", *args, env={**os.environ, **env},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return CliResult(proc.returncode, out.decode(), err.decode())
