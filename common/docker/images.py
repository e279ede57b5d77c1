"""Runtime images onto hosts without a registry: stream the signed runtime package from S3,
pass its image.tar member straight to ``docker load`` and check the loaded image's id."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable

import aiodocker
import structlog

from common.docker.errors import BadPackage, ImageMismatch
from common.docker.host import DockerHost
from common.docker.tarstream import Member, TarStream
from common.packages.keys import TrustedKeys
from common.packages.manifests import (
    IMAGE_MEMBER,
    RuntimeManifest,
    parse_runtime_manifest,
    parse_signature,
)

log = structlog.get_logger(__name__)
FetchPackage = Callable[[], AsyncIterator[bytes]]


async def has_image(host: DockerHost, image_digest: str) -> bool:
    """True when the host holds the image whose id is ``image_digest``."""
    try:
        info = await host.docker.images.inspect(image_digest)
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            return False
        raise
    return bool(info.get("Id") == image_digest)


async def ensure_image(
    host: DockerHost, runtime_version: str, image_ref: str, image_digest: str,
    fetch_package: FetchPackage, *, trusted_keys: TrustedKeys | None = None,
) -> str:
    """Make sure ``host`` has the runtime's image; return its id (use it as the image).

    Loads it from the package that ``fetch_package()`` streams when missing, once per host
    even when many callers ask at once. With ``trusted_keys`` the package's signature is
    checked again. Raises BadPackage (not this runtime, torn or tampered package),
    ImageMismatch (the engine did not end up with ``image_digest``), aiodocker.DockerError.
    """
    if await has_image(host, image_digest):
        return image_digest
    async with host.image_lock(image_digest):
        if await has_image(host, image_digest):
            return image_digest
        log.info("docker_image_loading", host=host.name, runtime=runtime_version)
        await _load(host, TarStream(fetch_package()), runtime_version, image_digest,
                    trusted_keys)
        if not await has_image(host, image_digest):
            raise ImageMismatch(f"runtime {runtime_version}: loaded image is not {image_digest}")
        await _tag(host, image_digest, image_ref)
        log.info("docker_image_loaded", host=host.name, runtime=runtime_version)
    return image_digest


async def _load(host: DockerHost, tar: TarStream, runtime_version: str, image_digest: str,
                trusted_keys: TrustedKeys | None) -> None:
    manifest = await _read_head(tar, runtime_version, image_digest, trusted_keys)
    image = await _expect(tar, IMAGE_MEMBER)
    expected = manifest.members[IMAGE_MEMBER]
    if image.size != expected.size:
        raise BadPackage(f"{IMAGE_MEMBER}: {image.size} bytes, manifest says {expected.size}")
    source = _Source(tar.data(image))
    try:
        await host.docker.images.import_image(data=source.chunks())
    except aiodocker.DockerError:
        if source.error is not None:  # the package broke, not the engine: say so
            raise source.error from None
        raise
    await tar.drain()
    if source.sha256.hexdigest() != expected.sha256:
        raise BadPackage(f"{IMAGE_MEMBER}: sha256 differs from the signed manifest")


async def _read_head(tar: TarStream, runtime_version: str, image_digest: str,
                     trusted_keys: TrustedKeys | None) -> RuntimeManifest:
    manifest_bytes = await tar.read_small(await _expect(tar, "manifest.json", small=True))
    signature_bytes = await tar.read_small(await _expect(tar, "signature.json", small=True))
    if trusted_keys is not None:
        signature = parse_signature(signature_bytes)
        trusted_keys.verify(signature.key_id, signature.raw_signature(), manifest_bytes)
    manifest = parse_runtime_manifest(manifest_bytes)
    if (manifest.runtime_version, manifest.image_digest) != (runtime_version, image_digest):
        raise BadPackage(f"package holds runtime {manifest.runtime_version} "
                         f"({manifest.image_digest}), not {runtime_version} ({image_digest})")
    return manifest


async def _expect(tar: TarStream, name: str, *, small: bool = False) -> Member:
    member = await tar.next_member()
    if member is None or member.name != name or member.type not in (b"0", b"\0"):
        raise BadPackage(f"runtime package: expected member {name!r}")
    if small and member.size > 1 << 20:
        raise BadPackage(f"runtime package: {name} is too large")
    return member


class _Source:
    """The image bytes on their way to the engine: hashed, and any failure kept, because the
    HTTP client reports a failing body only as a broken connection."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks, self.sha256 = chunks, hashlib.sha256()
        self.error: Exception | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                self.sha256.update(chunk)
                yield chunk
        except Exception as exc:
            self.error = exc
            raise


async def _tag(host: DockerHost, image_id: str, image_ref: str) -> None:
    repo, sep, tag = image_ref.rpartition(":")
    if not sep or "/" in tag:
        repo, tag = image_ref, "latest"
    await host.docker.images.tag(image_id, repo, tag=tag)
