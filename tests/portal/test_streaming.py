"""``store_checked``: one pass over the upload feeds S3 and a blocking check, memory stays
bounded, and whichever side fails, nothing is left in S3 and the worker thread has ended."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator
from typing import IO

import pytest

from common.errors import BadRequest, TooLarge
from common.settings import S3Settings
from portal_svc.files.bridge import QUEUE_CHUNKS
from portal_svc.files.bucket import PortalStorage
from portal_svc.files.streaming import CheckStoppedEarly, store_checked

CHUNK = 64 * 1024


@pytest.fixture
async def storage(s3_settings: S3Settings) -> AsyncIterator[PortalStorage]:
    storage = PortalStorage(s3_settings, connect_deadline_s=30)
    async with storage:
        yield storage


class Source:
    """``count`` chunks of ``CHUNK`` bytes; records how far ahead of the check it got."""

    def __init__(self, count: int) -> None:
        self.count, self.sent = count, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index in range(self.count):
            self.sent += 1
            yield bytes([index % 251]) * CHUNK


async def _state(storage: PortalStorage) -> tuple[list[str], list[object]]:
    client = storage._client
    uploads = await client.list_multipart_uploads(Bucket=storage.bucket)
    return await storage.list_keys(), uploads.get("Uploads", [])


async def test_the_check_and_s3_see_the_same_bytes(storage: PortalStorage) -> None:
    def digest(stream: IO[bytes]) -> str:
        sha = hashlib.sha256()
        while block := stream.read(10_000):
            sha.update(block)
        return sha.hexdigest()

    checked = await store_checked(storage, "k", aiter(Source(40)), digest)
    assert checked.result == checked.stored.sha256 and checked.stored.size == 40 * CHUNK
    assert await storage.list_keys() == ["k"]


async def test_a_slow_check_holds_the_upload_back(storage: PortalStorage) -> None:
    """Memory is bounded: the source never runs more than the queue ahead of the check."""
    source = Source(60)
    lead: list[int] = []

    def slow(stream: IO[bytes]) -> int:
        read = 0
        while block := stream.read(CHUNK):
            hashlib.pbkdf2_hmac("sha256", block[:64], b"salt", 5_000)  # slower than the source
            read += 1
            lead.append(source.sent - read)
        return read

    checked = await store_checked(storage, "k", aiter(source), slow)
    assert checked.result == 60
    assert QUEUE_CHUNKS - 1 <= max(lead) <= QUEUE_CHUNKS + 2


async def test_a_failing_check_stops_the_upload_at_once(storage: PortalStorage) -> None:
    source = Source(10_000)  # 625 MiB if it were all read

    def refuse(stream: IO[bytes]) -> None:
        stream.read(CHUNK)
        raise BadRequest("no thanks", code="refused")

    threads = threading.active_count()
    with pytest.raises(BadRequest, match="no thanks"):
        await store_checked(storage, "k", aiter(source), refuse)
    assert source.sent < 3 * QUEUE_CHUNKS
    assert await _state(storage) == ([], [])
    assert threading.active_count() <= threads


async def test_a_failing_body_ends_the_check(storage: PortalStorage) -> None:
    async def too_big() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * CHUNK
        raise TooLarge("over the limit", code="too_large")

    ended = threading.Event()

    def patient(stream: IO[bytes]) -> None:
        try:
            while stream.read(CHUNK):
                pass
        finally:
            ended.set()

    with pytest.raises(TooLarge):
        await store_checked(storage, "k", too_big(), patient)
    assert ended.is_set()
    assert await _state(storage) == ([], [])


async def test_a_check_that_stops_reading_early_is_a_bug(storage: PortalStorage) -> None:
    def lazy(stream: IO[bytes]) -> str:
        stream.read(1)
        return "done"

    with pytest.raises(CheckStoppedEarly):
        await store_checked(storage, "k", aiter(Source(50)), lazy)
    assert await _state(storage) == ([], [])


async def test_the_object_appears_only_after_the_check_passed(storage: PortalStorage) -> None:
    seen: list[list[str]] = []
    loop = asyncio.get_running_loop()

    def look_at_the_end(stream: IO[bytes]) -> None:
        while stream.read(CHUNK):
            pass
        seen.append(asyncio.run_coroutine_threadsafe(storage.list_keys(), loop).result())

    await store_checked(storage, "k", aiter(Source(3)), look_at_the_end)
    assert seen == [[]] and await storage.list_keys() == ["k"]
