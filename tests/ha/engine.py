"""A second Docker engine on this machine, as another "host" for multi-host tests.

Its own socket, data root, exec root and pid file under a fresh folder in /tmp (short, for
the socket path limit), ``--bridge=none`` and no iptables/forwarding changes, so it never
touches the main engine's ``docker0``; our containers run with ``NetworkMode: none`` anyway.
Stopped (SIGTERM, then SIGKILL after 20 s) and its folder removed on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class SecondEngine:
    """A second dockerd that can be stopped and started again on the same folders (a Docker
    host going down and coming back)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mp-eng-", dir="/tmp"))
        self.url = f"unix://{self.root / 'd.sock'}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        root = self.root
        args = ["dockerd", "-H", self.url, "--data-root", str(root / "data"),
                "--exec-root", str(root / "exec"), "--pidfile", str(root / "d.pid"),
                "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false"]
        log = open(root / "dockerd.log", "ab")  # noqa: SIM115
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()
        _wait_ready(self._proc, root / "d.sock", timeout_s, root)

    def stop(self) -> None:
        if self._proc is not None:
            _stop(self._proc)
            self._proc = None

    def remove(self) -> None:
        """Stop it and remove its folders."""
        self.stop()
        for sub in ("exec", "data"):
            subprocess.run(["umount", "-R", str(self.root / sub)], capture_output=True,
                           check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def second_engine(start_timeout_s: float = 60.0) -> Iterator[str]:
    """Start a second dockerd; yield its ``unix://`` URL."""
    engine = SecondEngine()
    try:
        engine.start(start_timeout_s)
        yield engine.url
    finally:
        engine.remove()


def _wait_ready(proc: subprocess.Popen[bytes], sock: Path, timeout_s: float, root: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited with {proc.returncode}; see {root}/dockerd.log")
        if sock.exists() and subprocess.run(
                ["docker", "-H", f"unix://{sock}", "version"], capture_output=True,
                check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"dockerd not ready in {timeout_s} s; see {root}/dockerd.log")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
