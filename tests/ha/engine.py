"""A second Docker engine on this machine, as another "host" for multi-host tests.

Its own socket, data root, exec root and pid file under a fresh folder in /tmp (short, for
the socket path limit), its own default bridge (``mpe-…``, made here with a private /24) and
no iptables/forwarding changes; our containers run with ``NetworkMode: none`` anyway.
Not ``--bridge=none``: a dockerd started with it DELETES the host's ``docker0`` (moby's
``removeDefaultBridgeInterface``), which is the main engine's default bridge in this shared
network namespace — that is how ``docker0`` kept disappearing during multi-engine tests.

:meth:`Engine.fail` simulates a host failure: SIGKILL to the engine's whole process group
(dockerd and the containerd it started) and its socket removed, so every call to it fails.
:meth:`Engine.start` brings it back on the same roots (dockerd then stops the containers
left running from before). Stopped (SIGTERM, then SIGKILL after 20 s), what a killed engine
left running ended, and its folder removed on exit. Only this engine is ever killed, never
the shared one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class Engine:
    """One extra dockerd under ``root``; ``url`` is its ``unix://`` socket."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bridge = f"mpe-{root.name[-8:].lower()}"[:15]
        self.sock = root / "d.sock"
        self.url = f"unix://{self.sock}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start dockerd and return once it answers ``docker version``."""
        root = self.root
        _make_bridge(self.bridge)
        args = ["dockerd", "-H", self.url, "--data-root", str(root / "data"),
                "--exec-root", str(root / "exec"), "--pidfile", str(root / "d.pid"),
                f"--bridge={self.bridge}", "--iptables=false", "--ip-masq=false",
                "--ip-forward=false"]
        log = open(root / "dockerd.log", "ab")  # noqa: SIM115
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()
        _wait_ready(self._proc, self.sock, timeout_s, root)

    def fail(self) -> None:
        """The host dies: SIGKILL to dockerd's process group, socket removed."""
        proc = self._proc
        assert proc is not None and proc.poll() is None, "the engine is not running"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.sock.unlink(missing_ok=True)
        # Its containerd (a group of its own) dies with it but lingers a few seconds as a
        # zombie; a dockerd started meanwhile found its pid file, waited for that "still
        # running" containerd and gave up. A host that died has no such process: drop it.
        (self.root / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGKILL)  # its containerd, if it outlived it
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)


def _kill_leftovers(root: Path) -> None:
    """SIGKILL the containerd shims under ``root`` and their containers' processes: a
    SIGKILLed engine (:meth:`Engine.fail`) never restarted leaves them running (each shim
    is in a process group of its own)."""
    shims = [int(pid) for pid in os.listdir("/proc") if pid.isdigit()
             and str(root) in _cmdline(int(pid))]
    for pid in [child for shim in shims for child in _children(shim)] + shims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _mounts_under(root: Path) -> list[str]:
    """Mount points under ``root``, deepest first."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return sorted((m for m in points if m.startswith(f"{root}/")), key=len, reverse=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    """``pid``'s descendants (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in map(int, task.read_text().split()):
                found += [child, *_children(child)]
    return found


def _make_bridge(name: str) -> None:
    """A bridge of our own for the engine's default network, with a free private /24."""
    if subprocess.run(["ip", "link", "show", name], capture_output=True,
                      check=False).returncode == 0:
        return  # a restart of the same engine
    used = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True,
                          check=True).stdout
    third = next(n for n in range(200, 255) if f"10.213.{n}." not in used)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", f"10.213.{third}.1/24", "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)


class SecondEngine(Engine):
    """An :class:`Engine` in a fresh folder of its own, for a caller that stops and starts it
    (a Docker host going down and coming back) and removes it at the end."""

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="mp-eng-", dir="/tmp")))

    def remove(self) -> None:
        """Stop it, end what a killed engine left running, and remove its folders."""
        self.stop()
        _kill_leftovers(self.root)
        for point in _mounts_under(self.root):  # its containers' network namespaces and more
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def engine(start_timeout_s: float = 60.0) -> Iterator[Engine]:
    """Start a second dockerd; yield it; stop it and remove its folder."""
    made = SecondEngine()
    try:
        made.start(start_timeout_s)
        yield made
    finally:
        made.remove()


@contextlib.contextmanager
def second_engine(start_timeout_s: float = 60.0) -> Iterator[str]:
    """Start a second dockerd; yield its ``unix://`` URL."""
    with engine(start_timeout_s) as made:
        yield made.url


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
