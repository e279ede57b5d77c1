"""What a worker puts into a container's /work: the app package decrypted and extracted, and
an optional case, as one tar for the archive API (``app/…`` and the case under its name).

The container never sees a credential: the worker downloads (checking each blob's sha256)
and decrypts; the container only receives plain files.
"""

from __future__ import annotations

import asyncio
import hashlib
import tarfile
from pathlib import Path

from common.contracts.jobs import BlobRef
from common.errors import ModelportError
from common.packages import PlatformPrivateKey, unpack_app
from common.storage import S3Storage

APP_DIR = "app"


class BadBlob(ModelportError):
    """A blob whose bytes are not the ones its reference names."""

    code, status = "bad_blob", 500


async def download(storage: S3Storage, blob: BlobRef, path: Path) -> None:
    """Stream ``blob`` into ``path``; raises BadBlob when its sha256 is not the reference's."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:  # noqa: ASYNC230 - local writes, chunk by chunk
        async for chunk in storage.download(blob.s3_key):
            digest.update(chunk)
            f.write(chunk)
    if digest.hexdigest() != blob.sha256:
        raise BadBlob(f"{blob.s3_key}: sha256 differs from its reference")


async def work_tar(storage: S3Storage, key: PlatformPrivateKey, app: BlobRef,
                   case: BlobRef | None, case_name: str, tmp: Path,
                   extra: tuple[str, ...] = ()) -> Path:
    """Download and decrypt the app, download the case (as ``case_name``); return the tar,
    which also holds the files named in ``extra`` (already in ``tmp``)."""
    await download(storage, app, tmp / "app.mpapp")
    await asyncio.to_thread(unpack_app, tmp / "app.mpapp", key, tmp / APP_DIR)
    (tmp / "app.mpapp").unlink()
    names = [APP_DIR]
    if case is not None:
        await download(storage, case, tmp / case_name)
        names.append(case_name)
    names += extra
    tar_path = tmp / "work.tar"
    await asyncio.to_thread(_write_tar, tmp, tar_path, names)
    return tar_path


def _write_tar(tmp: Path, tar_path: Path, names: list[str]) -> None:
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            tar.add(tmp / name, arcname=name, filter=_readable)


def _readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() else 0o644
    return info
