"""One streaming upload: the bytes go to S3 and through a blocking check at the same time.

:func:`store_checked` is the single implementation behind every upload (runtimes, apps,
cases; API and browser). The request body is read once, in chunks. Each chunk is passed to a
check running in a worker thread (through a bounded :class:`~portal_svc.files.bridge.ChunkBridge`)
and to an S3 multipart upload. The multipart upload is completed only after the check has
read the last byte and passed, so an object exists in S3 only if its bytes were accepted;
any failure (the check, the body, the size limit, S3) aborts it and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Generic, TypeVar

from common.errors import ModelportError
from common.storage import S3Storage, StoredObject
from portal_svc.files.bridge import ChunkBridge, ReaderGone

T = TypeVar("T")
Check = Callable[[IO[bytes]], T]
"""A blocking check: reads the stream to its end, returns what it learnt or raises."""


class CheckStoppedEarly(ModelportError):
    """A check returned without reading to the end: a bug in the check, never the client's."""

    code = "internal"


@dataclass(frozen=True)
class Checked(Generic[T]):
    """An accepted upload: the stored object and what the check returned."""

    stored: StoredObject
    result: T


async def store_checked(
    storage: S3Storage, key: str, chunks: AsyncIterator[bytes], check: Check[T]
) -> Checked[T]:
    """Stream ``chunks`` to ``key`` while ``check`` reads the same bytes in a worker thread.

    Returns once both the upload and the check succeeded. Raises the check's error when it
    fails, else the error of the chunks (e.g. TooLarge, a truncated body) or of S3; in every
    failure the multipart upload is aborted and the worker thread has ended.
    """
    bridge = ChunkBridge(asyncio.get_running_loop())
    checker = asyncio.ensure_future(asyncio.to_thread(_run_check, check, bridge))
    try:
        stored = await storage.upload(key, _tee(chunks, bridge, checker))
    except BaseException:
        bridge.abort()
        await _settle(checker)
        raise
    return Checked(stored, checker.result())


async def _tee(
    chunks: AsyncIterator[bytes], bridge: ChunkBridge, checker: asyncio.Future[T]
) -> AsyncIterator[bytes]:
    """Pass each chunk to the check, then yield it to S3; end only once the check passed."""
    async for chunk in chunks:
        try:
            await bridge.feed(chunk)
        except ReaderGone:
            await checker  # raises the check's error
            raise CheckStoppedEarly("the check stopped before the end of the upload") from None
        yield chunk
    await bridge.finish()
    await checker


def _run_check(check: Check[T], bridge: ChunkBridge) -> T:
    try:
        return check(bridge)  # type: ignore[arg-type]  # a minimal binary reader
    finally:
        bridge.reader_finished()


async def _settle(checker: asyncio.Future[T]) -> None:
    """Wait for the worker thread to end; its error (if any) was already reported or moot."""
    try:
        await asyncio.shield(checker)
    except Exception:  # BridgeAborted, or the check's own error
        pass
