"""S3 storage against the session's SeaweedFS: streaming, checksums, limits, missing keys."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
import structlog.testing
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from common.errors import NotFound, TooLarge
from common.settings import S3Settings
from common.storage import META_SHA256, ChecksumMismatch, S3Storage
from modelport.devstack.weed import WeedServer

MB = 1024 * 1024


@pytest.fixture
async def storage(s3_settings: S3Settings) -> AsyncIterator[S3Storage]:
    async with S3Storage(s3_settings, connect_deadline_s=30) as storage:
        yield storage


@pytest.fixture
async def raw_s3(s3_settings: S3Settings) -> AsyncIterator[Any]:
    """A plain aiobotocore client on the same server, to act behind the storage's back."""
    async with get_session().create_client(
        "s3",
        endpoint_url=s3_settings.endpoint_url,
        region_name=s3_settings.region,
        aws_access_key_id=s3_settings.access_key.get_secret_value(),
        aws_secret_access_key=s3_settings.secret_key.get_secret_value(),
    ) as client:
        yield client


class Stream:
    """``size`` pseudo-random bytes made chunk by chunk, hashed as they go (never held whole)."""

    def __init__(self, size: int, chunk: int = 1 * MB + 17):
        self.size, self.chunk = size, chunk
        self.digest = hashlib.sha256()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        left = self.size
        while left:
            data = os.urandom(min(self.chunk, left))
            self.digest.update(data)
            left -= len(data)
            yield data


async def _drain(chunks: AsyncIterator[bytes]) -> tuple[int, str]:
    size, digest = 0, hashlib.sha256()
    async for chunk in chunks:
        size += len(chunk)
        digest.update(chunk)
    return size, digest.hexdigest()


async def test_bucket_is_created_at_start(s3_settings: S3Settings, raw_s3: Any) -> None:
    async with S3Storage(s3_settings) as storage:
        await raw_s3.head_bucket(Bucket=s3_settings.bucket)
        assert await storage.ping()
    async with S3Storage(s3_settings) as again:  # an existing bucket is fine
        assert await again.list_keys() == []


async def test_50_mb_stream_round_trip_with_checksum(storage: S3Storage) -> None:
    stream = Stream(50 * MB)

    stored = await storage.upload("cases/big", stream.__aiter__())

    assert (stored.size, stored.sha256) == (50 * MB, stream.digest.hexdigest())
    assert await storage.head("cases/big") == stored
    assert await _drain(storage.download("cases/big")) == (50 * MB, stored.sha256)


async def test_small_upload_and_empty_upload(storage: S3Storage) -> None:
    async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    empty = await storage.upload("empty", chunks())
    small = await storage.upload("small", chunks(b"abc", b"def"))

    assert (empty.size, empty.sha256) == (0, hashlib.sha256().hexdigest())
    assert await storage.read_bytes("empty") == b""
    assert await storage.read_bytes("small") == b"abcdef"
    assert small.sha256 == hashlib.sha256(b"abcdef").hexdigest()


async def test_put_bytes_and_read_bytes(storage: S3Storage) -> None:
    stored = await storage.put_bytes("jobs/1/input", b"hello")
    assert stored.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert await storage.read_bytes("jobs/1/input") == b"hello"
    assert await storage.list_keys("jobs/") == ["jobs/1/input"]


async def test_corrupted_object_is_detected(
    storage: S3Storage, raw_s3: Any, s3_settings: S3Settings
) -> None:
    stream = Stream(6 * MB)
    stored = await storage.upload("cases/c1", stream.__aiter__())
    corrupted = bytearray(os.urandom(stored.size))
    await raw_s3.put_object(
        Bucket=s3_settings.bucket, Key="cases/c1", Body=bytes(corrupted),
        Metadata={META_SHA256: stored.sha256},
    )

    with pytest.raises(ChecksumMismatch):
        await _drain(storage.download("cases/c1"))


async def test_object_without_checksum_is_not_trusted(
    storage: S3Storage, raw_s3: Any, s3_settings: S3Settings
) -> None:
    await raw_s3.put_object(Bucket=s3_settings.bucket, Key="foreign", Body=b"data")
    with pytest.raises(ChecksumMismatch):
        await storage.read_bytes("foreign")


async def test_too_large_upload_leaves_nothing_behind(
    storage: S3Storage, raw_s3: Any, s3_settings: S3Settings
) -> None:
    stream = Stream(13 * MB)  # more than one 8 MB part is sent before the limit trips

    with pytest.raises(TooLarge):
        await storage.upload("apps/huge", stream.__aiter__(), max_bytes=12 * MB)

    with pytest.raises(NotFound):
        await storage.head("apps/huge")
    assert await storage.list_keys() == []
    uploads = await raw_s3.list_multipart_uploads(Bucket=s3_settings.bucket)
    assert uploads.get("Uploads", []) == []


async def test_exactly_max_bytes_is_allowed(storage: S3Storage) -> None:
    stored = await storage.upload("apps/fits", Stream(MB).__aiter__(), max_bytes=MB)
    assert stored.size == MB


async def test_missing_key_is_not_found(storage: S3Storage) -> None:
    with pytest.raises(NotFound):
        await storage.head("nope")
    with pytest.raises(NotFound):
        await storage.read_bytes("nope")
    await storage.delete("nope")  # deleting what is not there counts as done


async def test_delete_removes_the_object(storage: S3Storage) -> None:
    await storage.put_bytes("cases/gone", b"x")
    await storage.delete("cases/gone")
    with pytest.raises(NotFound):
        await storage.head("cases/gone")


async def test_client_error_at_start_surfaces_without_retry(s3_server: WeedServer) -> None:
    storage = S3Storage(
        S3Settings(endpoint_url=s3_server.endpoint, bucket="Not_A_Bucket"), connect_deadline_s=30
    )
    with structlog.testing.capture_logs() as logs, pytest.raises(ClientError):
        await storage.start()
    assert [e for e in logs if e["event"] == "retrying"] == []
