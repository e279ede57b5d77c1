"""Runtime images onto hosts without a registry: fetch the runtime package from S3 into a
private temporary file while hashing it, verify it in full, and only then feed its image.tar
member to ``docker load``; finally check the loaded image's id.

Nothing reaches the engine before the package's SHA-256 equals the one the backend named,
its signature verifies against the trusted publisher keys, the image's size and SHA-256
equal the signed manifest's, and the manifest names the runtime asked for. Memory stays
bounded (1 MiB chunks); the disk holds one package at a time per load.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import structlog

from common.docker.errors import BadPackage, ImageMismatch
from common.docker.host import DockerHost
from common.packages.errors import PackageError
from common.packages.keys import TrustedKeys
from common.packages.limits import DEFAULT_LIMITS, PackageLimits
from common.packages.manifests import IMAGE_MEMBER, RuntimeManifest
from common.packages.runtime import verify_runtime

log = structlog.get_logger(__name__)
FetchPackage = Callable[[], AsyncIterator[bytes]]
CHUNK = 1 << 20
PACKAGE_OVERHEAD = 1 << 20  # tar headers, manifest and signature around image.tar


async def has_image(host: DockerHost, image_digest: str) -> bool:
    """True when the host holds the image whose id is ``image_digest``."""
    try:
        info = await host.docker.images.inspect(image_digest)
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            return False
        raise
    return bool(info.get("Id") == image_digest)


@dataclass(frozen=True)
class _Runtime:
    version: str
    image_digest: str
    package_sha256: str


async def ensure_image(
    host: DockerHost, runtime_version: str, image_ref: str, image_digest: str,
    fetch_package: FetchPackage, *, package_sha256: str, trusted_keys: TrustedKeys,
    limits: PackageLimits = DEFAULT_LIMITS, spool_dir: str | None = None,
) -> str:
    """Make sure ``host`` has the runtime's image; return its id (use it as the image).

    When missing, the package that ``fetch_package()`` streams is spooled to a temporary file
    in ``spool_dir`` and verified before any byte goes to ``docker load`` (see the module):
    its SHA-256 must be ``package_sha256`` (what the backend named), its signature must
    verify with ``trusted_keys``, and it must hold ``runtime_version`` with ``image_digest``.
    Loads once per host even when many callers ask at once; tags the image ``image_ref``.
    Raises BadPackage (nothing was loaded), ImageMismatch (the engine did not end up with
    ``image_digest``), aiodocker.DockerError, OSError.
    """
    runtime = _Runtime(runtime_version, image_digest, package_sha256)
    if await has_image(host, runtime.image_digest):
        return runtime.image_digest
    async with host.image_lock(runtime.image_digest):
        if await has_image(host, runtime.image_digest):
            return runtime.image_digest
        log.info("docker_image_loading", host=host.name, runtime=runtime.version)
        with _spool_file(spool_dir) as path:
            image = await _verified_package(path, runtime, fetch_package, trusted_keys, limits)
            await host.docker.images.import_image(data=_file_range(path, *image))
        if not await has_image(host, runtime.image_digest):
            raise ImageMismatch(f"runtime {runtime.version}: loaded image is not "
                                f"{runtime.image_digest}")
        await _tag(host, runtime.image_digest, image_ref)
        log.info("docker_image_loaded", host=host.name, runtime=runtime.version)
    return runtime.image_digest


async def _verified_package(
    path: Path, runtime: _Runtime, fetch_package: FetchPackage,
    trusted_keys: TrustedKeys, limits: PackageLimits,
) -> tuple[int, int]:
    """Spool the package to ``path`` and verify it; return the offset and size of its
    image.tar data in the file. Raises BadPackage naming what failed."""
    max_bytes = limits.max_image_bytes + PACKAGE_OVERHEAD
    digest = await _spool(fetch_package(), path, max_bytes)
    if digest != runtime.package_sha256:
        raise BadPackage(f"runtime {runtime.version}: the package fetched has sha256 {digest}, "
                         f"not {runtime.package_sha256} as the backend named")
    try:
        manifest = await asyncio.to_thread(verify_runtime, path, trusted_keys, limits)
    except PackageError as exc:
        raise BadPackage(f"runtime {runtime.version}: {exc.code}: {exc.message}") from exc
    _check_runtime(manifest, runtime)
    return await asyncio.to_thread(_image_range, path)


def _check_runtime(manifest: RuntimeManifest, runtime: _Runtime) -> None:
    if (manifest.runtime_version, manifest.image_digest) != (runtime.version,
                                                             runtime.image_digest):
        raise BadPackage(f"package holds runtime {manifest.runtime_version} "
                         f"({manifest.image_digest}), not {runtime.version} "
                         f"({runtime.image_digest})")


@contextlib.contextmanager
def _spool_file(spool_dir: str | None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="mp-runtime-", dir=spool_dir) as folder:
        yield Path(folder) / "package.mprt"


async def _spool(chunks: AsyncIterator[bytes], path: Path, max_bytes: int) -> str:
    """Write ``chunks`` to ``path`` (created 0600); return their SHA-256. Raises BadPackage
    past ``max_bytes``."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BadPackage(f"runtime package: more than {max_bytes} bytes")
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:  # an S3 download left early gives its connection back now
            await close()
    return digest.hexdigest()


def _image_range(path: Path) -> tuple[int, int]:
    with tarfile.open(path, "r:") as tar:
        info = tar.getmember(IMAGE_MEMBER)
        return info.offset_data, info.size


async def _file_range(path: Path, offset: int, size: int) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:  # noqa: ASYNC230 - reads run in a thread below
        await asyncio.to_thread(f.seek, offset)
        while size > 0:
            chunk = await asyncio.to_thread(f.read, min(CHUNK, size))
            if not chunk:
                raise BadPackage("runtime package: the spooled file ends early")
            size -= len(chunk)
            yield chunk


async def _tag(host: DockerHost, image_id: str, image_ref: str) -> None:
    repo, sep, tag = image_ref.rpartition(":")
    if not sep or "/" in tag:
        repo, tag = image_ref, "latest"
    await host.docker.images.tag(image_id, repo, tag=tag)
