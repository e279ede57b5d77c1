"""The files of a serve-protocol-2 run on the agent's stdin and stdout (docs/agent.md): the
inputs' tar sent right after the request line, the result case read right after the agent's
``result`` line, instead of two archive-API round trips through dockerd."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import IO

from modelport.agent.protocol import ResultEvent, parse_line
from modelport.agent.transfer import Frame
from solve_svc.files import BadResult

MAX_LINE = 1 << 20  # a longer line is cut into pieces (as solve_svc.agent_exec does)
STALL_S = 30.0  # a frame on its way may pause this long between bytes, no longer


class BadTransfer(BadResult):
    """The result's frame was refused: oversize, truncated or a wrong checksum."""

    code = "bad_transfer"


def frame_of(path: Path) -> Frame:
    """The frame (size and SHA-256) announcing the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return Frame(path.stat().st_size, digest.hexdigest())


class ResultReceiver:
    """Splits the agent's stdout into lines until its ``result`` line, then writes exactly
    that line's ``size`` bytes to ``dest`` and checks them against its ``sha256``.

    Raises BadTransfer when the announced size is over ``max_bytes``, when the stream ends
    before the last byte (:meth:`finish`), when no byte came for ``stall_s`` while they were
    due (:meth:`stalled`, raised by the reader) or when the checksum does not match. ``ms``
    holds how long the bytes took to arrive (``receive``)."""

    def __init__(self, dest: Path, max_bytes: int, stall_s: float = STALL_S) -> None:
        self.dest, self.max_bytes, self.stall_s = dest, max_bytes, stall_s
        self.ms: dict[str, float] = {}
        self._buf = bytearray()
        self._event: ResultEvent | None = None
        self._out: IO[bytes] | None = None
        self._left = 0
        self._hash = hashlib.sha256()
        self._began = 0.0

    @property
    def complete(self) -> bool:
        return self._event is not None and self._out is None

    @property
    def receiving(self) -> bool:
        """The result line came and some of its bytes are still due."""
        return self._out is not None

    def stalled(self) -> BadTransfer:
        """The error for bytes that stopped coming (the reader waited ``stall_s``)."""
        got = self._event.size - self._left if self._event else 0
        self._close()
        return BadTransfer(f"the result case stalled: no byte for {self.stall_s:g} s after "
                           f"{got} of {self._event.size if self._event else 0} bytes")

    def split(self, data: bytes) -> list[bytes]:
        """The whole lines in ``data`` (and what came before it); the result's bytes go to
        ``dest``."""
        lines: list[bytes] = []
        while data:
            if self._out is not None:
                data = self._write(data)
                continue
            self._buf.extend(data)
            data = b""
            while (end := self._buf.find(b"\n")) >= 0 or len(self._buf) > MAX_LINE:
                cut = end if 0 <= end <= MAX_LINE else MAX_LINE
                line = bytes(self._buf[:cut])
                del self._buf[: cut + (1 if cut == end else 0)]
                lines.append(line)
                if self._event is None and b'"result"' in line and self._begin(line):
                    data, self._buf = bytes(self._buf), bytearray()
                    break
        return lines

    def rest(self) -> bytes:
        """What is left in the buffer after the stream ended (a last line without newline)."""
        rest, self._buf = bytes(self._buf), bytearray()
        return rest

    def finish(self) -> None:
        """The stream ended: raises BadTransfer when the result's bytes are incomplete."""
        if self._out is not None:
            got = self._event.size - self._left if self._event else 0
            self._close()
            raise BadTransfer(f"the result case was truncated: the stream ended after {got} "
                              f"of {self._event.size if self._event else 0} bytes")

    def _begin(self, line: bytes) -> bool:
        event = parse_line(line)
        if not isinstance(event, ResultEvent):
            return False
        if event.size > self.max_bytes:
            raise BadTransfer(f"the result case is oversize: {event.size} bytes announced, "
                              f"at most {self.max_bytes}")
        self._event, self._left, self._began = event, event.size, time.perf_counter()
        self._out = open(self.dest, "wb")  # noqa: SIM115 - closed in _close
        if self._left == 0:
            self._done()
        return True

    def _write(self, data: bytes) -> bytes:
        assert self._out is not None
        take = data[: self._left]
        self._out.write(take)
        self._hash.update(take)
        self._left -= len(take)
        if self._left == 0:
            self._done()
        return data[len(take):]

    def _done(self) -> None:
        assert self._event is not None
        self._close()
        self.ms["receive"] = (time.perf_counter() - self._began) * 1000
        if self._hash.hexdigest() != self._event.sha256:
            raise BadTransfer("the result case has a wrong checksum: the bytes received do "
                              "not match the sha256 of the result line")

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
