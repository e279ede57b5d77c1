"""A RabbitMQ node of the test's own, for tests that stop and restart the broker.

The shared broker on 5672 stays up; this node gets its own name, ports and data folder
(which must belong to the ``rabbitmq`` user, as the server scripts drop to it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

from tests.support.ports import free_port


class RabbitInstance:
    def __init__(self, base_dir: Path):
        self.name = f"mp{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base_dir = base_dir
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        d = self.base_dir
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
        }

    def _ctl(self, *args: str, timeout_s: float = 90) -> None:
        subprocess.run(["rabbitmqctl", "-q", "-n", self.name, *args], env=self._env(),
                       check=True, capture_output=True, timeout=timeout_s)

    def start(self) -> None:
        """Start the node and return once it accepts connections."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        shutil.chown(self.base_dir, "rabbitmq", "rabbitmq")
        for path in self.base_dir.iterdir():
            shutil.chown(path, "rabbitmq", "rabbitmq")
        subprocess.run(["rabbitmq-server", "-detached"], env=self._env(), check=True,
                       capture_output=True, timeout=60)
        self._ctl("wait", str(self.base_dir / "pid"), "--timeout", "80")

    def stop(self) -> None:
        """Stop the whole node (every connection drops); its data stays for the next start."""
        self._ctl("stop", timeout_s=60)

    @staticmethod
    def missing() -> str | None:
        """Why a node of the test's own cannot start here, or None when it can."""
        if shutil.which("rabbitmq-server") is None:
            return "rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)"
        if os.geteuid() != 0:
            return ("Debian's rabbitmq-server runs only as root (it drops to the rabbitmq "
                    "user itself); run ./scripts/test as root")
        return None
