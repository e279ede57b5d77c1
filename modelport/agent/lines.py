"""Whole protocol lines written to a stream from any thread (the agents' stdout channels)."""

from __future__ import annotations

import threading
from typing import BinaryIO


class LineWriter:
    """Writes each line whole and flushed, one writer at a time across threads."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, line: bytes) -> None:
        """Write and flush ``line``; raises OSError when the stream is gone."""
        with self._lock:
            self._stream.write(line)
            self._stream.flush()
