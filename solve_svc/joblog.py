"""A job's log: every line the agent and its app write, kept in a file with a size cap, and
stored in S3 under the attempt's ``log`` key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import structlog

from common.contracts.jobs import BlobRef, attempt_key
from common.storage import S3Storage

log = structlog.get_logger(__name__)


class JobLog:
    """Appends ``[source] line`` lines to ``path`` until ``max_bytes``; one note says when later
    lines were dropped. Synchronous writes: lines are small and the file is local."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path, self.max_bytes = path, max_bytes
        self.size, self.dropped = 0, 0
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, source: str, line: str | bytes) -> None:
        """Keep one line (a trailing newline is added); count it as dropped past the cap."""
        text = line if isinstance(line, bytes) else line.encode(errors="replace")
        data = b"[" + source.encode() + b"] " + text.rstrip(b"\n") + b"\n"
        if self.size + len(data) > self.max_bytes:
            self.dropped += 1
            return
        self._file.write(data)
        self.size += len(data)

    def flush(self) -> None:
        """Hand what was written to the file (to read it while the log stays open)."""
        if not self._file.closed:
            self._file.flush()

    @property
    def state(self) -> tuple[int, int]:
        """(bytes kept, lines dropped): equal states mean equal final files."""
        return self.size, self.dropped

    def close(self) -> None:
        """Note dropped lines and close the file (idempotent)."""
        if self._file.closed:
            return
        if self.dropped:
            self._file.write(f"[solve] {self.dropped} more lines dropped: the log is capped "
                             f"at {self.max_bytes} bytes\n".encode())
        self._file.close()


async def file_chunks(path: Path, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
    """The file's bytes in chunks, read without blocking the loop."""
    with open(path, "rb") as f:  # noqa: ASYNC230 - reads go to a thread below
        while chunk := await asyncio.to_thread(f.read, chunk_size):
            yield chunk


@dataclass(frozen=True)
class StoredLog:
    ref: BlobRef
    state: tuple[int, int]  # the log's when it was stored

    def still_whole(self, joblog: JobLog) -> bool:
        """Whether nothing was added since (closing adds a note only when lines dropped)."""
        return joblog.state == self.state and joblog.dropped == 0


async def store_log(storage: S3Storage, job_id: str, attempt: int,
                    joblog: JobLog) -> StoredLog | None:
    """Store the log as written so far; None (logged) when storage failed: the outcome still
    counts without its log."""
    joblog.flush()
    state = joblog.state
    key = attempt_key(job_id, attempt, "log")
    try:
        stored = await storage.upload(key, file_chunks(joblog.path), content_type="text/plain")
    except Exception as exc:
        log.warning("job_log_not_stored", error=str(exc))
        return None
    return StoredLog(BlobRef(s3_key=stored.key, sha256=stored.sha256, size_bytes=stored.size),
                     state)
