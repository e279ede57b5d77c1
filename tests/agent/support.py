"""Running the agent as a subprocess and reading its protocol with bounded waits."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from modelport.agent import AgentEvent, ErrorEvent, ResultEvent, parse_line

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUNTIME_VERSION = "9.8.7-test"


def agent_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "modelport.agent", "run", *map(str, args)]


def agent_env() -> dict[str, str]:
    return {**os.environ, "MODELPORT_RUNTIME_VERSION": RUNTIME_VERSION}


@dataclass
class Outcome:
    """A finished agent run: its stdout lines (raw and parsed), exit code and stderr."""

    lines: list[bytes]
    returncode: int
    stderr: str
    events: list[AgentEvent] = field(init=False)

    def __post_init__(self) -> None:
        self.events = [parse_line(line) for line in self.lines]

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    @property
    def result(self) -> ResultEvent:
        final = self.events[-1]
        assert isinstance(final, ResultEvent), (final, self.stderr)
        return final

    @property
    def error(self) -> ErrorEvent:
        final = self.events[-1]
        assert isinstance(final, ErrorEvent), (final, self.stderr)
        return final


def run_agent(*args: str | Path, timeout_s: float = 60.0) -> Outcome:
    """Run the agent to completion (killed after ``timeout_s``)."""
    done = subprocess.run(agent_command(*args), capture_output=True, timeout=timeout_s,
                          env=agent_env(), check=False)
    return Outcome(done.stdout.splitlines(), done.returncode, done.stderr.decode())


class LiveAgent:
    """An agent process whose events are read as they come, each wait bounded."""

    def __init__(self, command: Sequence[str], stdin: int | None = None) -> None:
        self.proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=agent_env())
        self.lines: list[bytes] = []
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[AgentEvent], bool], timeout_s: float) -> AgentEvent:
        """The first event matching ``predicate``; fails after ``timeout_s`` or at EOF."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            assert line is not None, f"agent ended first: {b''.join(self.lines)!r}"
            self.lines.append(line)
            if predicate(event := parse_line(line)):
                return event
        raise AssertionError(f"no matching event within {timeout_s} s")

    def send(self, data: bytes) -> None:
        """Write ``data`` to the agent's stdin and close it (``stdin=PIPE`` processes)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.close()

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGUSR1)

    def finish(self, timeout_s: float) -> Outcome:
        """Wait for exit (killing it after ``timeout_s``) and return every line."""
        try:
            self.proc.wait(timeout=timeout_s)
        finally:
            self.proc.kill()
        deadline = time.monotonic() + timeout_s
        while (line := self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))):
            self.lines.append(line)
        assert self.proc.stderr is not None
        return Outcome(self.lines, self.proc.returncode, self.proc.stderr.read().decode())
