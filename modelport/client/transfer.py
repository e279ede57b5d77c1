"""Streaming bodies: a file sent in chunks with progress, a response saved in chunks with a hash.

Neither ever holds a whole file in memory; the chunk size bounds what is buffered.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractStreamWriter

from modelport.client.errors import ChecksumMismatch

CHUNK = 1 << 20


class Progress(Protocol):
    """What a transfer reports to: its total size once known, then each chunk moved."""

    def start(self, total: int | None) -> None: ...

    def advance(self, size: int) -> None: ...


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def start(self, total: int | None) -> None:
        pass

    def advance(self, size: int) -> None:
        pass


class FilePayload(aiohttp.payload.Payload):
    """A request body read from ``path`` in chunks; its size gives the Content-Length."""

    def __init__(self, path: Path, progress: Progress, chunk: int = CHUNK) -> None:
        super().__init__(path, content_type="application/octet-stream")
        self._path, self._chunk, self._progress = path, chunk, progress
        self._length = path.stat().st_size
        self._size = self._length

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file upload has no text form")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        left = self._length if content_length is None else min(content_length, self._length)
        self._progress.start(self._length)
        with self._path.open("rb") as handle:
            while left > 0:
                data = await asyncio.to_thread(handle.read, min(self._chunk, left))
                if not data:
                    break
                await writer.write(data)
                left -= len(data)
                self._progress.advance(len(data))


async def save_body(
    response: aiohttp.ClientResponse, dest: Path, progress: Progress,
    *, expected_sha256: str | None,
) -> str:
    """Write ``response``'s body to ``dest`` (atomically) and return its sha256 (hex).

    The bytes go to ``<dest>.part`` first; when ``expected_sha256`` is given and differs, that
    file is removed and :class:`ChecksumMismatch` raised, leaving ``dest`` untouched.
    """
    digest = hashlib.sha256()
    part = dest.with_name(dest.name + ".part")
    progress.start(response.content_length)
    try:
        with part.open("wb") as handle:
            async for data in response.content.iter_chunked(CHUNK):
                digest.update(data)
                await asyncio.to_thread(handle.write, data)
                progress.advance(len(data))
        _check(digest.hexdigest(), expected_sha256, dest)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return digest.hexdigest()


def _check(actual: str, expected: str | None, dest: Path) -> None:
    if expected is not None and actual != expected.strip().lower():
        raise ChecksumMismatch(
            f"{dest.name}: downloaded bytes have sha256 {actual}, the server announced {expected}"
        )
