"""S3 storage on aiobotocore: streaming multipart upload and verified streaming download.

Every object carries its sha256 in the ``sha256`` user metadata, computed on the fly while
uploading; a download recomputes it and raises :class:`ChecksumMismatch` at the end of the
stream if the bytes changed. Nothing is read whole into memory.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from common.backoff import retry
from common.errors import ModelportError, NotFound, StorageUnavailable, TooLarge
from common.lifecycle import StartStop
from common.settings import S3Settings

log = structlog.get_logger(__name__)
META_SHA256 = "sha256"
CONNECT_TIMEOUT_S = 3  # botocore's 60 s would hold every request of an S3 outage that long


def _transient(exc: BaseException) -> bool:
    """Connection failures and 5xx are worth retrying; a 4xx (bad name, no access) is not."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status) >= 500
    return True


# What an unreachable S3 raises (refused, reset, timed out): the call fails at once as
# ``storage_unavailable`` instead of surfacing as an internal error.
_LINK_ERRORS = (BotoConnectionError, HTTPClientError)


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """Turn a failure to reach S3 (or its 5xx) into StorageUnavailable."""
    try:
        yield
    except _LINK_ERRORS as exc:
        raise StorageUnavailable(detail=type(exc).__name__) from exc
    except ClientError as exc:
        if _transient(exc):
            raise StorageUnavailable(detail=str(exc)) from exc
        raise


class ChecksumMismatch(ModelportError):
    code, status = "checksum_mismatch", 500


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


class S3Storage(StartStop):
    """One bucket. Use as ``async with S3Storage(settings) as storage``."""

    def __init__(self, settings: S3Settings, *, connect_deadline_s: float = 30.0):
        self._settings = settings
        self._deadline_s = connect_deadline_s
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self.bucket = settings.bucket
        self._part_size = settings.part_size_mb * 1024 * 1024

    async def start(self) -> None:
        """Open the client and create the bucket if it is missing (retrying while S3 starts)."""
        s = self._settings
        self._client = await self._stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=s.endpoint_url or None,
                region_name=s.region,
                aws_access_key_id=s.access_key.get_secret_value(),
                aws_secret_access_key=s.secret_key.get_secret_value(),
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                              connect_timeout=CONNECT_TIMEOUT_S),
            )
        )
        try:
            await retry(self._ensure_bucket, what="s3_bucket", deadline_s=self._deadline_s,
                        retry_on=(EndpointConnectionError, OSError, ClientError),
                        retry_if=_transient)
        except BaseException:
            await self._stack.aclose()
            raise

    async def stop(self) -> None:
        await self._stack.aclose()

    async def _ensure_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            with contextlib.suppress(self._client.exceptions.BucketAlreadyOwnedByYou):
                await self._client.create_bucket(Bucket=self.bucket)
            log.info("s3_bucket_created", bucket=self.bucket)

    async def ping(self) -> bool:
        """True when the bucket answers."""
        try:
            await self._client.head_bucket(Bucket=self.bucket)
            return True
        except Exception:
            return False

    async def upload(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        """Stream ``chunks`` to ``key`` as a multipart upload; return its size and sha256.

        Raises TooLarge (and leaves nothing behind) when more than ``max_bytes`` arrive; any
        other failure aborts the upload too.
        """
        with _reachable():
            return await self._upload(key, chunks, max_bytes, content_type)

    async def _upload(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int | None,
                      content_type: str) -> StoredObject:
        digest = hashlib.sha256()
        size = 0
        created = await self._client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type
        )
        upload_id = created["UploadId"]
        parts: list[dict[str, Any]] = []
        buffer = bytearray()
        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(f"upload exceeds the limit of {max_bytes} bytes")
                digest.update(chunk)
                buffer += chunk
                while len(buffer) >= self._part_size:
                    await self._put_part(key, upload_id, parts, bytes(buffer[: self._part_size]))
                    del buffer[: self._part_size]
            if buffer or not parts:
                await self._put_part(key, upload_id, parts, bytes(buffer))
            await self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise
        sha = digest.hexdigest()
        try:
            await self._set_checksum(key, sha, content_type)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._client.delete_object(Bucket=self.bucket, Key=key)
            raise
        return StoredObject(key, size, sha)

    async def _put_part(
        self, key: str, upload_id: str, parts: list[dict[str, Any]], body: bytes
    ) -> None:
        number = len(parts) + 1
        reply = await self._client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        parts.append({"PartNumber": number, "ETag": reply["ETag"]})

    async def _set_checksum(self, key: str, sha: str, content_type: str) -> None:
        """Record the checksum as metadata, known only once the stream has ended.

        A server-side copy onto itself: it costs a second write inside S3 and limits one
        object to S3's 5 GB copy limit (runtime packages are capped well below). Callers
        upload to a key nobody reads yet (a staging key or a fresh id), so no reader sees the
        object before its checksum is there; if recording fails the object is removed.
        """
        await self._client.copy_object(
            Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
            Metadata={META_SHA256: sha}, MetadataDirective="REPLACE", ContentType=content_type,
        )

    async def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store a small object in one request."""
        sha = hashlib.sha256(data).hexdigest()
        with _reachable():
            await self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, Metadata={META_SHA256: sha}
            )
        return StoredObject(key, len(data), sha)

    async def head(self, key: str) -> StoredObject:
        """Size and checksum of ``key``; raises NotFound."""
        with _missing_as_not_found(key), _reachable():
            reply = await self._client.head_object(Bucket=self.bucket, Key=key)
        return StoredObject(key, reply["ContentLength"], reply["Metadata"].get(META_SHA256, ""))

    async def download(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object's bytes; raise ChecksumMismatch after the last chunk if they changed.

        Callers that forward chunks before the end must discard what they wrote on that error.
        """
        with _missing_as_not_found(key), _reachable():
            reply = await self._client.get_object(Bucket=self.bucket, Key=key)
        expected = reply["Metadata"].get(META_SHA256)
        digest = hashlib.sha256()
        async with reply["Body"] as body:
            while True:
                with _reachable():
                    chunk = await body.read(chunk_size)
                if not chunk:
                    break
                digest.update(chunk)
                yield chunk
        if expected is None or digest.hexdigest() != expected:
            log.error("s3_checksum_mismatch", key=key, expected=expected)
            raise ChecksumMismatch(f"object {key!r} does not match its recorded checksum")

    async def read_bytes(self, key: str) -> bytes:
        """The whole (small) object, verified."""
        return b"".join([chunk async for chunk in self.download(key)])

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key counts as removed."""
        with _reachable():
            await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def list_keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with _reachable():
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys


@contextlib.contextmanager
def _missing_as_not_found(key: str) -> Iterator[None]:
    """Turn S3's "no such key" for ``key`` into NotFound; other errors pass unchanged."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise NotFound(f"no object {key!r}") from None
        raise
