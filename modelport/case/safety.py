"""Defensive access to a case container: sniffing, member checks and bounded reads.

Nothing here trusts the file: names, sizes and types declared in the zip are checked, and
every byte inflated counts against a budget, whatever the zip claims.
"""

from __future__ import annotations

import contextlib
import io
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from modelport.case.errors import CaseError
from modelport.case.schema import HEADER_NAME

CHUNK = 1 << 20
LOCAL_HEADER = b"PK\x03\x04"
DRIVE_RE = re.compile(r"^[A-Za-z]:")
ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})

Source = str | Path | bytes | bytearray | memoryview | IO[bytes]


@dataclass(frozen=True)
class Limits:
    """What a reader accepts at most; every limit exceeded is a CaseError(too_large)."""

    max_unpacked_bytes: int = 1 << 30
    max_decoded_bytes: int = 1 << 30
    max_members: int = 10_000
    max_header_bytes: int = 64 << 10
    max_manifest_bytes: int = 16 << 20


class Budget:
    """Bytes that may still be inflated."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit

    def take(self, size: int, what: str) -> None:
        """Count ``size`` bytes of ``what``; raises CaseError(too_large) past the limit."""
        self.remaining -= size
        if self.remaining < 0:
            raise CaseError("too_large", f"{what}: the case inflates past {self.limit} bytes")


@contextlib.contextmanager
def open_source(source: Source, limits: Limits) -> Iterator[IO[bytes]]:
    """A seekable binary file for a path, bytes or stream (non-seekable ones are spooled,
    at most ``max_unpacked_bytes``)."""
    if isinstance(source, str | Path):
        with open(source, "rb") as handle:
            yield handle
    elif isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
    elif _seekable(source):
        yield source
    else:
        with tempfile.SpooledTemporaryFile(max_size=16 << 20) as spool:
            _copy_bounded(source, spool, Budget(limits.max_unpacked_bytes))
            spool.seek(0)
            yield spool


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError):
        return False


def _copy_bounded(source: IO[bytes], target: IO[bytes], budget: Budget) -> None:
    while chunk := source.read(CHUNK):
        budget.take(len(chunk), "input stream")
        target.write(chunk)


def sniff(fp: IO[bytes]) -> None:
    """Raise CaseError(not_a_case) unless the file starts with a zip local header whose
    member is the case header ``modelport-case.json``."""
    start = fp.tell()
    head = fp.read(30 + len(HEADER_NAME))
    fp.seek(start)
    if len(head) < 30 or head[:4] != LOCAL_HEADER:
        raise CaseError("not_a_case", "not a Modelport case (no zip container)")
    name_length = struct.unpack("<H", head[26:28])[0]
    if head[30 : 30 + name_length] != HEADER_NAME.encode():
        raise CaseError("not_a_case", f"not a Modelport case (first member is not {HEADER_NAME})")


def open_zip(fp: IO[bytes]) -> zipfile.ZipFile:
    """The zip directory of a sniffed file; a missing directory means a truncated file."""
    try:
        return zipfile.ZipFile(fp)
    except zipfile.BadZipFile as exc:
        raise CaseError("truncated", f"the case ends early or is damaged ({exc})") from None
    except (OSError, EOFError, ValueError) as exc:
        raise CaseError("truncated", f"the case cannot be read ({exc})") from None


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a member may not be accepted, or None if its name and type are safe."""
    name = info.filename
    if not name or "\x00" in name or "\\" in name:
        return "empty name, NUL or backslash"
    if name.startswith("/") or DRIVE_RE.match(name):
        return "absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "'..', '.' or empty path component (or a directory)"
    mode = info.external_attr >> 16
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "link or special file"
    return None


def check_members(archive: zipfile.ZipFile, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    """The members by name, after rejecting unsafe, duplicate, encrypted or oversized ones."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise CaseError("too_large", f"{len(infos)} members, at most {limits.max_members}")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        reason = unsafe_reason(info)
        if reason:
            raise CaseError("unsafe_member", f"member {info.filename!r}: {reason}")
        if info.filename in members:
            raise CaseError("duplicate_member", f"member {info.filename!r} appears twice")
        if info.flag_bits & 0x1 or info.compress_type not in ALLOWED_COMPRESSION:
            raise CaseError("unsupported_member",
                            f"member {info.filename!r}: encrypted or not stored/deflated")
        members[info.filename] = info
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_unpacked_bytes:
        raise CaseError("too_large", f"members declare {declared} bytes, "
                                     f"at most {limits.max_unpacked_bytes}")
    return members


def read_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    budget: Budget,
    limit: int | None = None,
    *,
    over: str = "too_large",
) -> bytes:
    """The member's bytes, inflating at most ``limit`` (and the budget) whatever it declares.

    Raises CaseError: ``over`` past ``limit``, too_large past the budget, corrupt_member
    (CRC or deflate error), truncated.
    """
    out = io.BytesIO()
    try:
        with archive.open(info) as member:
            while chunk := member.read(CHUNK):
                budget.take(len(chunk), info.filename)
                out.write(chunk)
                if limit is not None and out.tell() > limit:
                    raise CaseError(over, f"member {info.filename!r} exceeds {limit} bytes")
    except zipfile.BadZipFile as exc:
        raise CaseError("corrupt_member", f"member {info.filename!r}: {exc}") from None
    except zlib.error as exc:
        raise CaseError("corrupt_member", f"member {info.filename!r}: {exc}") from None
    except (EOFError, OSError) as exc:
        raise CaseError("truncated", f"member {info.filename!r} ends early ({exc})") from None
    return out.getvalue()

