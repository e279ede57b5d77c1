"""A bounded bridge from async chunks (an upload) to a blocking reader (a verifier in a thread).

The event loop feeds chunks with :meth:`ChunkBridge.feed`, which waits while the queue is full,
so a slow verifier slows the upload down instead of letting memory grow. The worker thread
reads the same bytes through :meth:`ChunkBridge.read` like a file. Either side can give up:
:meth:`ChunkBridge.abort` wakes a blocked reader with :class:`BridgeAborted`, and a reader that
stops (it failed or finished) makes :meth:`feed` fail fast instead of waiting forever.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import CancelledError as FutureCancelled

QUEUE_CHUNKS = 8
"""Chunks in flight between the loop and the reader; memory is about this × the chunk size."""


class BridgeAborted(Exception):
    """The feeding side gave up; raised in the reader thread."""


class ReaderGone(Exception):
    """The reader stopped reading before the end of the data; raised to the feeder."""


_EOF = b""


class ChunkBridge:
    """An async-to-sync byte pipe. Create it on the event loop that will feed it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, max_chunks: int = QUEUE_CHUNKS):
        self._loop = loop
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(max_chunks)
        self._buffer = memoryview(b"")
        self._ended = False
        self.reader_done = asyncio.Event()

    # --- the event loop's side -------------------------------------------------------------

    async def feed(self, chunk: bytes) -> None:
        """Queue ``chunk`` for the reader, waiting for room; raises ReaderGone if it stopped."""
        if chunk and not await self._put(chunk):
            raise ReaderGone("the reader stopped before the end of the data")

    async def finish(self) -> None:
        """Mark the end of the data: the reader sees EOF (a reader already gone is fine)."""
        await self._put(_EOF)

    async def _put(self, item: bytes) -> bool:
        """Queue ``item``; False when the reader stopped first."""
        if self.reader_done.is_set():
            return False
        put = asyncio.ensure_future(self._queue.put(item))
        gone = asyncio.ensure_future(self.reader_done.wait())
        try:
            await asyncio.wait({put, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not put.done():
                put.cancel()
        return put.done() and not put.cancelled()

    def abort(self) -> None:
        """Wake a blocked reader with BridgeAborted; what is queued is dropped."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    # --- the worker thread's side ----------------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); b"" at the end of the data.

        Blocks the calling thread (never the event loop's) until data arrives; raises
        BridgeAborted when the feeder gave up.
        """
        if size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        if not self._buffer and not self._next_chunk():
            return b""
        block = bytes(self._buffer[:size])
        self._buffer = self._buffer[size:]
        return block

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def reader_finished(self) -> None:
        """Called by the reader thread when it stops, for whatever reason."""
        self._loop.call_soon_threadsafe(self.reader_done.set)

    def _next_chunk(self) -> bool:
        if self._ended:
            return False
        future = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop)
        try:
            chunk = future.result()
        except FutureCancelled:
            raise BridgeAborted("the upload was abandoned") from None
        if chunk is None:
            self._ended = True
            raise BridgeAborted("the upload was abandoned")
        if chunk == _EOF:
            self._ended = True
            return False
        self._buffer = memoryview(chunk)
        return True
