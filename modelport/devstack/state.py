"""The state directory of a local stack: pids, the cookie secret, logs, S3 data.

Layout::

    <state-dir>/pids.json       what ``dev up`` started (read by ``dev down``)
    <state-dir>/cookie_secret   the portal's Fernet key, kept across restarts (mode 0600)
    <state-dir>/broker.env      the stack's broker users and passwords while it runs (0600)
    <state-dir>/keys/           platform.key/.pub (X25519) and publisher.key/.pub (Ed25519)
    <state-dir>/trusted/        the publisher keys the stack trusts (publisher.pub)
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

from common.packages import (
    generate_platform_key,
    generate_signing_key,
    save_private_key,
    save_public_key,
)


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


@dataclass(frozen=True)
class StackKeys:
    """The keys of a local stack: the platform's private key, the trusted-keys folder, and the
    publisher key (trusted by the stack) that signs runtimes for it."""

    platform_key: Path
    trusted_dir: Path
    publisher_key: Path


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

    def keys(self) -> StackKeys:
        """The stack's keys: read them, or create them once (private keys with mode 0600)."""
        folder, trusted = self.root / "keys", self.root / "trusted"
        keys = StackKeys(folder / "platform.key", trusted, folder / "publisher.key")
        folder.mkdir(mode=0o700, exist_ok=True)
        trusted.mkdir(exist_ok=True)
        if not keys.platform_key.exists():
            _write_pair(keys.platform_key, *generate_platform_key("modelport dev platform"))
        if not keys.publisher_key.exists():
            _write_pair(keys.publisher_key, *generate_signing_key("modelport dev publisher"))
        public = keys.publisher_key.with_suffix(".pub")
        if not (trusted / public.name).exists():
            save_public_key(trusted / public.name, public.read_text("utf-8"))
        return keys

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


def _write_pair(private: Path, pem: bytes, public_line: str) -> None:
    save_public_key(private.with_suffix(".pub"), public_line)
    save_private_key(private, pem)
