"""Files of an attempt on the worker host: the tar put into the container's /work (app and
input case, see :mod:`common.docker.workdir`) and the result case copied back out."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tarfile
from pathlib import Path

from common.contracts.jobs import BlobRef
from common.docker import Container
from common.docker.workdir import work_tar
from common.errors import ModelportError
from common.packages import PlatformPrivateKey
from common.storage import S3Storage

INPUT_FILE, OUTPUT_FILE, START_FILE = "input.mpcase", "result.mpcase", "start.json"


class BadResult(ModelportError):
    """The container's result case cannot be copied out (missing, not a file, too large)."""

    code, status = "bad_result", 500


async def prepare_inputs(storage: S3Storage, key: PlatformPrivateKey, app: BlobRef,
                         case: BlobRef | None, tmp: Path, start: bytes | None = None) -> Path:
    """The tar for /work (``app/…``, ``input.mpcase`` and, to resume from, ``start.json``)."""
    extra: tuple[str, ...] = ()
    if start is not None:
        await asyncio.to_thread((tmp / START_FILE).write_bytes, start)
        extra = (START_FILE,)
    return await work_tar(storage, key, app, case, INPUT_FILE, tmp, extra)


async def copy_out(container: Container, path: str, dest: Path, max_bytes: int) -> None:
    """Copy the regular file ``path`` from the container into ``dest`` (through a tar on
    disk, streamed); raises BadResult when it is missing, not a file or over ``max_bytes``."""
    tar_path = dest.with_suffix(".tar")
    try:
        await _fetch_archive(container, path, tar_path, max_bytes)
        await asyncio.to_thread(_extract_one, tar_path, dest, max_bytes)
    finally:
        tar_path.unlink(missing_ok=True)


async def _fetch_archive(container: Container, path: str, tar_path: Path,
                         max_bytes: int) -> None:
    size = 0
    async with container.host.docker._query(
        f"containers/{container.id}/archive", params={"path": path},
    ) as reply:
        with open(tar_path, "wb") as f:  # noqa: ASYNC230 - local writes, chunk by chunk
            async for chunk in reply.content.iter_chunked(1 << 20):
                size += len(chunk)
                if size > max_bytes + (1 << 20):
                    raise BadResult(f"{path}: over {max_bytes} bytes")
                f.write(chunk)


def _extract_one(tar_path: Path, dest: Path, max_bytes: int) -> None:
    with tarfile.open(tar_path) as tar:
        member = tar.next()
        if member is None or not member.isfile():
            raise BadResult("the result case is not a regular file")
        if member.size > max_bytes:
            raise BadResult(f"the result case is over {max_bytes} bytes")
        source = tar.extractfile(member)
        assert source is not None
        with source, open(dest, "wb") as out:
            shutil.copyfileobj(source, out)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
