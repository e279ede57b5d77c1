"""Keeping the app's stdout out of the protocol.

The protocol is written to a duplicate of the process's original stdout (``protocol_stream``,
taken before the capture starts); file descriptor 1 itself (and ``sys.stdout`` on top of it)
is pointed at a pipe whose lines come back as log events. Output written at the descriptor
level, e.g. by a solver's C++ code, is caught too.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO, TextIO

READ_CHUNK = 65_536
MAX_LINE_BYTES = 16_384
JOIN_TIMEOUT_S = 5.0


def protocol_stream() -> BinaryIO:
    """An unbuffered binary stream on a duplicate of the current stdout descriptor."""
    sys.stdout.flush()
    return open(os.dup(1), "wb", buffering=0)  # noqa: SIM115


class StdoutCapture:
    """Context manager: inside it, fd 1 and ``sys.stdout`` feed ``on_line``.

    On exit the captured output is drained (every line written before exit reaches
    ``on_line``, unless a child process still holds the pipe after JOIN_TIMEOUT_S) and fd 1
    and ``sys.stdout`` are restored.
    """

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._saved_fd = -1
        self._saved_stdout: TextIO | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> StdoutCapture:
        sys.stdout.flush()
        self._saved_fd = os.dup(1)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 1)
        os.close(write_end)
        self._reader = threading.Thread(target=self._pump, args=(read_end,), daemon=True,
                                        name="stdout-capture")
        self._reader.start()
        self._saved_stdout = sys.stdout
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8",  # noqa: SIM115
                                      errors="replace", line_buffering=True)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        sys.stdout = self._saved_stdout or sys.__stdout__
        os.dup2(self._saved_fd, 1)  # closes the pipe's write end, so the reader sees EOF
        os.close(self._saved_fd)
        if self._reader is not None:
            self._reader.join(JOIN_TIMEOUT_S)

    def _pump(self, read_end: int) -> None:
        pending = b""
        with open(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(READ_CHUNK):
                pending = self._split(pending + chunk)
        if pending:
            self._send(pending)

    def _split(self, data: bytes) -> bytes:
        """Send every complete line of ``data`` (long ones in pieces); return the rest."""
        *lines, rest = data.split(b"\n")
        for line in lines:
            while len(line) > MAX_LINE_BYTES:
                self._send(line[:MAX_LINE_BYTES])
                line = line[MAX_LINE_BYTES:]
            self._send(line)
        while len(rest) > MAX_LINE_BYTES:
            self._send(rest[:MAX_LINE_BYTES])
            rest = rest[MAX_LINE_BYTES:]
        return rest

    def _send(self, line: bytes) -> None:
        try:
            self._on_line(line.rstrip(b"\r").decode("utf-8", errors="replace"))
        except OSError:
            pass  # the protocol stream is gone; keep draining so the app never blocks
