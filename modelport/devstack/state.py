"""The state directory of a local stack: pids, the cookie secret, logs, S3 data.

Layout::

    <state-dir>/pids.json       what ``dev up`` started (read by ``dev down``)
    <state-dir>/cookie_secret   the portal's Fernet key, kept across restarts (mode 0600)
    <state-dir>/logs/<name>.log one log per process
    <state-dir>/s3/             the embedded S3 server's data
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRecord:
    """A started process; ``start_time`` (from /proc) tells it apart from a reused pid."""

    name: str
    pid: int
    start_time: str | None


@dataclass(frozen=True)
class StackRecord:
    """What ``pids.json`` holds: the processes (stop order: services, then S3) and the URL."""

    processes: list[ProcessRecord]
    portal_url: str


class StateDir:
    """Paths and small files under one state directory (created on first use)."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    @property
    def pids_file(self) -> Path:
        return self.root / "pids.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def s3_data(self) -> Path:
        return self.root / "s3"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def prepare(self) -> None:
        """Create the directory and its ``logs`` folder."""
        self.logs.mkdir(parents=True, exist_ok=True)

    def cookie_secret(self) -> str:
        """The portal's cookie key: read it, or create it once (32 random bytes, url-safe b64)."""
        path = self.root / "cookie_secret"
        if path.exists():
            return path.read_text().strip()
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key

    def write_record(self, record: StackRecord) -> None:
        """Write ``pids.json`` atomically."""
        tmp = self.pids_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2) + "\n")
        tmp.replace(self.pids_file)

    def read_record(self) -> StackRecord | None:
        """The recorded stack, or None when nothing was recorded."""
        if not self.pids_file.exists():
            return None
        data = json.loads(self.pids_file.read_text())
        processes = [ProcessRecord(**item) for item in data.get("processes", [])]
        return StackRecord(processes=processes, portal_url=str(data.get("portal_url", "")))

    def clear_record(self) -> None:
        self.pids_file.unlink(missing_ok=True)

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last ``lines`` lines of a process's log ('' when there is none)."""
        path = self.log_file(name)
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 64 * 1024))
            text = handle.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
