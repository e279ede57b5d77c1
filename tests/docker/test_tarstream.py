"""TarStream reads what Python's tarfile writes, pax headers included, from small chunks."""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator

import pytest

from common.docker import BadPackage
from common.docker.tarstream import TarStream


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


async def _chunks(data: bytes, size: int = 333) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_members_in_order() -> None:
    long_name = "d/" + "n" * 150 + "é.txt"  # needs a pax header
    members = {"a.json": b"{}", long_name: b"x" * 5000, "big": bytes(range(256)) * 9000}
    stream = TarStream(_chunks(_tar(members)))
    seen: dict[str, bytes] = {}
    while (member := await stream.next_member()) is not None:
        if member.size < 10_000:
            seen[member.name] = await stream.read_small(member)
        else:
            seen[member.name] = b"".join([c async for c in stream.data(member)])
    assert seen == members


async def test_torn_archive() -> None:
    stream = TarStream(_chunks(_tar({"a": b"x" * 2000})[:1200]))
    member = await stream.next_member()
    assert member is not None
    with pytest.raises(BadPackage):
        await stream.read_small(member)


async def test_not_a_tar() -> None:
    with pytest.raises(BadPackage, match="not a tar"):
        await TarStream(_chunks(b"hello" * 200)).next_member()
