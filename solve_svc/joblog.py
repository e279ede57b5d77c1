"""A job's log: every line the agent and its app write, kept in a file with a size cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO


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
