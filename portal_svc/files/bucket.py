"""The portal's view of the bucket: :class:`~common.storage.S3Storage` plus a server-side copy
and a delete that never fails the caller (for cleaning up after a refused upload)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import structlog

from common.errors import RpcTimeout
from common.storage import ChecksumMismatch, S3Storage, StoredObject

log = structlog.get_logger(__name__)
R = TypeVar("R")
STAGING_PREFIX = "staging/"
"""Where uploads land while they are checked; nothing stays here once a request ends."""


class PortalStorage(S3Storage):
    async def copy(self, source: StoredObject, dest: str) -> StoredObject:
        """Copy ``source`` to ``dest`` inside the bucket, keeping its metadata (the sha256).

        Raises ChecksumMismatch when the copy's size or recorded sha256 differ from the
        source's. S3 copies up to 5 GiB in one request, as does ``upload``'s metadata copy.
        """
        await self._client.copy_object(
            Bucket=self.bucket, Key=dest, CopySource={"Bucket": self.bucket, "Key": source.key},
            MetadataDirective="COPY",
        )
        copied = await self.head(dest)
        if (copied.size, copied.sha256) != (source.size, source.sha256):
            raise ChecksumMismatch(f"the copy of {source.key!r} at {dest!r} differs from it")
        return copied

    async def keep_if_registered(self, key: str, register: Awaitable[R]) -> R:
        """``register``'s result (it records the object at ``key`` with backend); when it
        fails the object is discarded, except on RpcTimeout: backend may have recorded it,
        so it is kept and the unknown outcome logged. Raises what ``register`` raises."""
        try:
            return await register
        except RpcTimeout:
            log.warning("registration_outcome_unknown", key=key)
            raise
        except BaseException:
            await self.discard(key)
            raise

    async def discard(self, key: str) -> None:
        """Delete ``key``, shielded from cancellation; a failure is logged, not raised."""
        try:
            await asyncio.shield(self.delete(key))
        except Exception as exc:
            log.error("s3_orphan_left", key=key, error=type(exc).__name__)
