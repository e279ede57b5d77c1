"""A PostgreSQL server of the test's (or bench's) own, for faults that stop and restart it.

The shared server on 5432 stays up; this one is made with ``initdb`` in a fresh folder, listens
on a free loopback port with trust authentication, and runs as the ``postgres`` user (the
server refuses to run as root). Its data stays across :meth:`stop`/:meth:`start`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.ports import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


class PgInstance:
    def __init__(self, base_dir: Path, database: str = "modelport"):
        self.base_dir = base_dir
        self.data = base_dir / "data"
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_postgres(self, *args: str, timeout_s: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=timeout_s)

    def start(self) -> None:
        """initdb on first start; start the server and return once it accepts connections."""
        if not self.data.exists():
            self.base_dir.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.base_dir, "postgres", "postgres")
            self._as_postgres(_bin("initdb"), "-D", str(self.data), "-A", "trust",
                              "-U", "postgres", "--no-sync")
        options = (f"-p {self.port} -k {self.base_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.base_dir / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: every connection is cut, as in a restart)."""
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()
