"""What made a result case, kept in its metadata under ``"lineage"``."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.agent.protocol import PROTOCOL_VERSION
from modelport.appkit import LoadedApp

RUNTIME_VERSION_ENV = "MODELPORT_RUNTIME_VERSION"
RUNTIME_DIGEST_ENV = "MODELPORT_RUNTIME_DIGEST"
CHUNK = 1 << 20


def utc_now() -> str:
    """The current time, RFC 3339 in UTC with milliseconds (``2025-01-06T09:30:00.123Z``)."""
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def runtime_version() -> str | None:
    """The runtime's version as the runtime image sets it, or None outside a runtime."""
    return os.environ.get(RUNTIME_VERSION_ENV) or None


@dataclass(frozen=True)
class Lineage:
    """The facts of one run that a result case records."""

    loaded: LoadedApp
    procedure: str
    options: Mapping[str, Any]
    input_sha256: str | None
    started_at: str
    finished_at: str
    interrupted: bool

    def to_metadata(self) -> dict[str, Any]:
        """``{"lineage": {...}}`` for the case manifest's metadata."""
        return {"lineage": {
            "app": {"name": self.loaded.manifest.name, "version": self.loaded.manifest.version},
            "procedure": self.procedure,
            "options": dict(self.options),
            "input": {"sha256": self.input_sha256,
                      "source": "case" if self.input_sha256 else "defaults"},
            "runtime": {"version": runtime_version(),
                        "digest": os.environ.get(RUNTIME_DIGEST_ENV) or None},
            "agent_protocol": PROTOCOL_VERSION,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "interrupted": self.interrupted,
        }}
