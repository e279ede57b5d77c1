"""The supervisor behind ``modelport dev up``: start, wait for readiness, watch, stop.

Children run in their own sessions, so a Ctrl-C in the terminal reaches only this supervisor,
which then stops them in order: the four services together (SIGTERM, then SIGKILL after the
deadline), then the S3 server.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from rich.console import Console
from rich.text import Text

from modelport.devstack import procs
from modelport.devstack.plan import ServiceSpec, free_port, port_in_use
from modelport.devstack.state import ProcessRecord, StackRecord, StateDir
from modelport.devstack.weed import WeedServer

S3_NAME = "s3"
S3_ATTEMPTS = 5
S3_STOP_TIMEOUT_S = 10.0  # weed lingers ~25 s on its gRPC streams; WeedServer.stop waits 10 s too
GRPC_OFFSET = 10_000
COLOURS = {"backend": "cyan", "session": "magenta", "solve": "yellow", "portal": "green"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def weed_port() -> int:
    """A free port whose gRPC twin (port + 10000, weed's convention) is valid and free.

    ``WeedServer`` picks its internal ports the same way without that check, so a start can
    still fail on a high port; :meth:`Stack.start_s3` retries a few times for that reason.
    """
    for _ in range(100):
        port = free_port()
        if port + GRPC_OFFSET <= 65535 and not port_in_use(port + GRPC_OFFSET):
            return port
    raise RuntimeError("no free port pair for the S3 server")


class StartupFailed(Exception):
    """A service exited or did not become ready in time; ``name`` says which."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


def is_ready(url: str) -> bool:
    """True when ``GET url`` answers 200 (no proxy: loopback only)."""
    try:
        with _NO_PROXY.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def stop_on_signals(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` on SIGINT/SIGTERM inside the block; restore the old handlers after."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: callback())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Stack:
    """The processes of one local stack under ``state``; ``detach`` sends logs to files only."""

    def __init__(self, state: StateDir, *, detach: bool, out: Console, err: Console):
        self.state, self.detach, self.out, self.err = state, detach, out, err
        self.stopping = threading.Event()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._readers: list[threading.Thread] = []
        self._weed: WeedServer | None = None
        self._records: list[ProcessRecord] = []

    def start_s3(self) -> str:
        """Start the embedded S3 server (data under the state dir); return its endpoint.

        Raises RuntimeError/TimeoutError when ``weed`` does not come up.
        """
        weed = self._start_weed()
        assert weed.process is not None
        self._weed = weed
        self._remember(S3_NAME, weed.process.pid)
        self.err.print(f"s3 listening on {weed.endpoint}")
        return weed.endpoint

    def _start_weed(self) -> WeedServer:
        for attempt in range(1, S3_ATTEMPTS + 1):
            weed = WeedServer(
                self.state.s3_data, s3_port=weed_port(), log_path=self.state.log_file(S3_NAME)
            )
            try:
                weed.start()
                return weed
            except RuntimeError:  # weed exited: most often a port clash, see weed_port()
                if attempt == S3_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def start_services(self, specs: list[ServiceSpec]) -> None:
        """Start every service process (each in its own session)."""
        for spec in specs:
            log = self.state.log_file(spec.name).open("wb")
            child = subprocess.Popen(
                [sys.executable, "-m", spec.module], env=spec.env, stdin=subprocess.DEVNULL,
                stdout=log if self.detach else subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._children[spec.name] = child
            self._remember(spec.name, child.pid)
            if self.detach:
                log.close()
            else:
                self._stream(spec.name, child, log)

    def _remember(self, name: str, pid: int) -> None:
        self._records.append(ProcessRecord(name, pid, procs.start_time(pid)))

    def _stream(self, name: str, child: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        def pump() -> None:
            assert child.stdout is not None
            with log:
                for raw in iter(child.stdout.readline, b""):
                    log.write(raw)
                    log.flush()
                    line = Text(f"{name:<8}| ", style=COLOURS.get(name, "bold"))
                    line.append(raw.decode(errors="replace").rstrip())
                    self.out.print(line, soft_wrap=True, highlight=False)

        thread = threading.Thread(target=pump, name=f"log-{name}", daemon=True)
        thread.start()
        self._readers.append(thread)

    def record(self, portal_url: str) -> None:
        """Write ``pids.json`` so ``dev down`` (or a later ``dev up``) finds these processes."""
        self.state.write_record(StackRecord(list(self._records), portal_url))

    def wait_ready(self, specs: list[ServiceSpec], deadline_s: float) -> None:
        """Return once every /readyz answers 200; raise StartupFailed naming the culprit."""
        started = time.monotonic()
        waiting = {spec.name: spec for spec in specs}
        while waiting:
            for name, spec in list(waiting.items()):
                code = self._children[name].poll()
                if code is not None:
                    raise StartupFailed(name, f"exited with status {code} during start-up")
                if is_ready(spec.readyz_url):
                    del waiting[name]
                    self.err.print(f"{name} ready ({time.monotonic() - started:.1f} s)")
            if not waiting:
                return
            if self.stopping.wait(0.25):
                raise StartupFailed(", ".join(waiting), "interrupted")
            if time.monotonic() - started > deadline_s:
                name = next(iter(waiting))
                raise StartupFailed(name, f"not ready within {deadline_s:g} s")

    def watch(self) -> int:
        """Foreground: block until a signal (returns 0) or a service dies (returns 1)."""
        while not self.stopping.wait(0.5):
            for name, child in self._children.items():
                if child.poll() is not None:
                    self.err.print(f"[red]{name} exited with status {child.returncode}[/]")
                    return 1
        return 0

    def stop(self, timeout_s: float) -> None:
        """Stop the services (SIGTERM, SIGKILL after ``timeout_s``), then S3; reap children."""
        services = [r for r in self._records if r.name != S3_NAME]
        s3 = [r for r in self._records if r.name == S3_NAME]
        killed = procs.stop_all(services, timeout_s)
        procs.stop_all(s3, S3_STOP_TIMEOUT_S)  # usually killed: see S3_STOP_TIMEOUT_S
        if killed:
            self.err.print(f"killed after their stop deadline: {', '.join(killed)}")
        for child in self._children.values():
            child.wait()
        if self._weed is not None:
            self._weed.stop()
        for thread in self._readers:
            thread.join(timeout=5)
        self.state.clear_record()
