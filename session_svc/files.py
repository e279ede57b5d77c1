"""A session's files on the worker host: the tar put into the container's /work, the app and
the case it opens with (``app/…``, ``case.mpcase``; see :mod:`common.docker.workdir`)."""

from __future__ import annotations

from pathlib import Path

from common.contracts.jobs import BlobRef
from common.docker.workdir import APP_DIR, work_tar
from common.packages import PlatformPrivateKey
from common.storage import S3Storage

CASE_FILE = "case.mpcase"
__all__ = ["APP_DIR", "CASE_FILE", "session_tar"]


async def session_tar(storage: S3Storage, key: PlatformPrivateKey, app: BlobRef,
                      case: BlobRef | None, tmp: Path) -> Path:
    """Download and decrypt the app, download the case; return the tar for /work."""
    return await work_tar(storage, key, app, case, CASE_FILE, tmp)
