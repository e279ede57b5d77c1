"""Read an uncompressed tar from an async stream of chunks, member by member, without
holding any member whole: enough of POSIX tar (ustar + pax headers) for runtime packages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from common.docker.errors import BadPackage

BLOCK = 512
CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    type: bytes


class TarStream:
    """Sequential reader: ``next_member()`` then ``read_small()`` or ``data()`` of it."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = bytearray()
        self._ended = False

    async def _fill(self, n: int) -> None:
        while len(self._buf) < n and not self._ended:
            try:
                self._buf += await anext(self._chunks)
            except StopAsyncIteration:
                self._ended = True

    async def _take(self, n: int) -> bytes:
        await self._fill(n)
        if len(self._buf) < n:
            raise BadPackage("runtime package: data ends inside the archive")
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def next_member(self) -> Member | None:
        """The next regular member's header (pax headers applied); None at the end."""
        pax: dict[str, str] = {}
        while True:
            header = await self._take(BLOCK)
            if header == bytes(BLOCK):
                return None
            member = _parse_header(header, pax)
            if member.type in (b"x", b"g"):
                records = await self.read_small(member)
                if member.type == b"x":
                    pax = _parse_pax(records)
                continue
            return member

    async def read_small(self, member: Member) -> bytes:
        """The whole (small) member's data."""
        data = await self._take(member.size)
        await self._take(-member.size % BLOCK)
        return data

    async def data(self, member: Member) -> AsyncIterator[bytes]:
        """The member's data in chunks of at most 1 MiB, then its padding is skipped."""
        left = member.size
        while left:
            await self._fill(1)
            if not self._buf:
                raise BadPackage(f"runtime package: data ends inside {member.name}")
            n = min(left, len(self._buf), CHUNK)
            chunk = bytes(self._buf[:n])
            del self._buf[:n]
            left -= n
            yield chunk
        await self._take(-member.size % BLOCK)

    async def drain(self) -> None:
        """Read to the end of the stream (so its own end-of-stream checks run)."""
        self._buf.clear()
        async for _ in self._chunks:
            pass
        self._ended = True


def _octal(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 for big sizes
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.strip(b"\0 ").decode("ascii", "replace") or "0"
    try:
        return int(text, 8)
    except ValueError:
        raise BadPackage("runtime package: not a tar (bad number in a header)") from None


def _parse_header(header: bytes, pax: dict[str, str]) -> Member:
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    if _octal(header[148:156]) != unsigned:
        raise BadPackage("runtime package: not a tar (bad header checksum)")
    name = header[:100].rstrip(b"\0").decode("utf-8", "replace")
    prefix = header[345:500].rstrip(b"\0").decode("utf-8", "replace")
    if header[257:262] == b"ustar" and prefix:
        name = f"{prefix}/{name}"
    size = int(pax["size"]) if "size" in pax else _octal(header[124:136])
    return Member(pax.get("path", name), size, header[156:157] or b"0")


def _parse_pax(records: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    while records:
        length_text = records.split(b" ", 1)[0]
        try:
            length = int(length_text)
        except ValueError:
            raise BadPackage("runtime package: bad pax header") from None
        record = records[len(length_text) + 1 : length - 1]  # "LEN key=value\n"
        key, _, value = record.partition(b"=")
        out[key.decode()] = value.decode("utf-8", "replace")
        records = records[length:]
    return out
