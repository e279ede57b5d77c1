"""Files on the serving agent's stdin and stdout (serve protocol 2, docs/agent.md).

The host sends /work's inputs as one tar right after the request line (the request's
``files``: ``size`` and ``sha256``); the agent sends the result case right after its
``result`` line (that line's ``size`` and ``sha256``). Both ways the bytes are counted and
hashed, reads are bounded, and a frame that is oversize, truncated or has the wrong checksum
is refused with :class:`BadTransfer`, leaving nothing extracted behind.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

CHUNK = 1 << 20
MAX_FILES_BYTES = 4 << 30  # the inputs' tar: app + input case (the case itself <= 512 MiB)


class BadTransfer(Exception):
    """A frame was refused: oversize, truncated, wrong checksum or an unsafe tar entry."""


@dataclass(frozen=True)
class Frame:
    """``size`` bytes whose SHA-256 is ``sha256`` (hex) follow on the stream."""

    size: int
    sha256: str

    @classmethod
    def of(cls, value: Any) -> Frame:
        """The frame a request's ``files`` describes; ValueError when it is malformed."""
        if not isinstance(value, dict) or set(value) != {"size", "sha256"}:
            raise ValueError("files: expected an object with size and sha256")
        size, digest = value["size"], value["sha256"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 \
                or not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("files: size must be a count of bytes, sha256 64 hex digits")
        return cls(size, digest.lower())

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "sha256": self.sha256}


class FrameReader:
    """Reads exactly ``frame.size`` bytes of ``source`` (as a file object), hashing them.
    A read past the frame returns b""; the source ending early raises BadTransfer."""

    def __init__(self, source: IO[bytes], frame: Frame) -> None:
        self._source, self._frame = source, frame
        self._left = frame.size
        self._hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        want = self._left if n is None or n < 0 else min(n, self._left)
        if want == 0:
            return b""
        data = self._source.read(min(want, CHUNK))
        if not data:
            got = self._frame.size - self._left
            raise BadTransfer(f"truncated: the stream ended after {got} of "
                              f"{self._frame.size} bytes")
        self._left -= len(data)
        self._hash.update(data)
        return data

    def finish(self) -> None:
        """Read what is left of the frame and check its checksum (BadTransfer if wrong)."""
        while self.read(CHUNK):
            pass
        if self._hash.hexdigest() != self._frame.sha256:
            raise BadTransfer("wrong checksum: the bytes received do not match the sha256 "
                              "announced")


def receive_files(source: IO[bytes], frame: Frame, work: Path,
                  max_bytes: int = MAX_FILES_BYTES) -> list[str]:
    """Extract the tar framed by ``frame`` from ``source`` into ``work``; return its entries.
    Raises BadTransfer (and removes what it extracted) when the frame is over ``max_bytes``,
    truncated, fails its checksum, or holds anything but files and folders inside ``work``.
    Returns the top-level names it created."""
    if frame.size > max_bytes:
        raise BadTransfer(f"oversize: {frame.size} bytes announced, at most {max_bytes}")
    made: list[Path] = []
    reader = FrameReader(source, frame)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                _extract(tar, member, work, made)
        reader.finish()
    except (BadTransfer, tarfile.TarError, OSError) as exc:
        _remove(made)
        if isinstance(exc, BadTransfer):
            raise
        raise BadTransfer(f"not a readable tar: {exc}") from None
    return [p.name for p in made]


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, work: Path,
             made: list[Path]) -> None:
    """Extract one entry, noting it in ``made`` before anything is written."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or not name.parts:
        raise BadTransfer(f"unsafe tar entry {member.name!r}")
    if not (member.isdir() or member.isfile()):
        raise BadTransfer(f"tar entry {member.name!r} is neither a file nor a folder")
    target = work.joinpath(*name.parts)
    top = work / name.parts[0]
    if top not in made and not top.exists():
        made.append(top)  # removing it on a refusal removes everything under it
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None
    with source, open(target, "xb") as out:
        shutil.copyfileobj(source, out, CHUNK)


def _remove(made: list[Path]) -> None:
    for path in reversed(made):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def send_file(path: Path, stream: IO[bytes]) -> None:
    """Write the whole file at ``path`` to ``stream`` (an unbuffered one: partial writes are
    continued) and flush."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            view = memoryview(chunk)
            while view:
                written = stream.write(view)
                view = view[written if written is not None else len(view):]
    stream.flush()
