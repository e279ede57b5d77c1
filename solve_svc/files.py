"""Files of an attempt on the worker host: the app package decrypted and extracted, the input
case, the tar put into the container's /work, and the result case copied back out.

The container never sees a credential: the worker downloads and decrypts, the container only
receives plain files through the archive API.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tarfile
from pathlib import Path

from common.contracts.jobs import BlobRef
from common.docker import Container
from common.errors import ModelportError
from common.packages import PlatformPrivateKey, unpack_app
from common.storage import S3Storage

APP_DIR, INPUT_FILE, OUTPUT_FILE = "app", "input.mpcase", "result.mpcase"


class BadBlob(ModelportError):
    """A blob whose bytes are not the ones its reference names."""

    code, status = "bad_blob", 500


class BadResult(ModelportError):
    """The container's result case cannot be copied out (missing, not a file, too large)."""

    code, status = "bad_result", 500


async def download(storage: S3Storage, blob: BlobRef, path: Path) -> None:
    """Stream ``blob`` into ``path``; raises BadBlob when its sha256 is not the reference's."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:  # noqa: ASYNC230 - local writes, chunk by chunk
        async for chunk in storage.download(blob.s3_key):
            digest.update(chunk)
            f.write(chunk)
    if digest.hexdigest() != blob.sha256:
        raise BadBlob(f"{blob.s3_key}: sha256 differs from the job's reference")


async def prepare_inputs(storage: S3Storage, key: PlatformPrivateKey, app: BlobRef,
                         case: BlobRef | None, tmp: Path) -> Path:
    """Download and decrypt the app, download the input case; return the tar for /work
    (``app/…`` and ``input.mpcase``)."""
    await download(storage, app, tmp / "app.mpapp")
    await asyncio.to_thread(unpack_app, tmp / "app.mpapp", key, tmp / APP_DIR)
    (tmp / "app.mpapp").unlink()
    if case is not None:
        await download(storage, case, tmp / INPUT_FILE)
    tar_path = tmp / "work.tar"
    await asyncio.to_thread(_write_tar, tmp, tar_path, case is not None)
    return tar_path


def _write_tar(tmp: Path, tar_path: Path, with_input: bool) -> None:
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(tmp / APP_DIR, arcname=APP_DIR, filter=_readable)
        if with_input:
            tar.add(tmp / INPUT_FILE, arcname=INPUT_FILE, filter=_readable)


def _readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() else 0o644
    return info


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
