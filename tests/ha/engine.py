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


@contextlib.contextmanager
def second_engine(start_timeout_s: float = 60.0) -> Iterator[str]:
    """Start a second dockerd; yield its ``unix://`` URL."""
    root = Path(tempfile.mkdtemp(prefix="mp-eng-", dir="/tmp"))
    sock = root / "d.sock"
    args = ["dockerd", "-H", f"unix://{sock}", "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"), "--pidfile", str(root / "d.pid"),
            "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false"]
    log = open(root / "dockerd.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        _wait_ready(proc, sock, start_timeout_s, root)
        yield f"unix://{sock}"
    finally:
        _stop(proc)
        for sub in ("exec", "data"):
            subprocess.run(["umount", "-R", str(root / sub)], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


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
