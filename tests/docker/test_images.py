"""ensure_image: docker load from a signed runtime package, no registry."""

from __future__ import annotations

import asyncio
import io
import subprocess
import tarfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.docker import BadPackage, DockerHost, ensure_image, has_image
from common.packages import SigningKey, TrustedKeys, pack_runtime
from common.packages.errors import UntrustedKey


@dataclass(frozen=True)
class Package:
    path: Path
    image_id: str
    version: str
    key: SigningKey


def _docker(*args: str, stdin: bytes | None = None) -> str:
    return subprocess.run(["docker", *args], input=stdin, check=True,
                          capture_output=True).stdout.decode().strip()


def _rootfs() -> bytes:
    buf = io.BytesIO()
    data = f"made for one test run {uuid.uuid4()}\n".encode()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def package(docker_engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Package]:
    """A runtime package of a tiny, unique image that the engine does not hold afterwards."""
    folder = tmp_path_factory.mktemp("runtime")
    tag = f"modelport-test/tiny:{uuid.uuid4().hex[:10]}"
    image_id = _docker("import", "-", tag, stdin=_rootfs())
    _docker("save", "-o", str(folder / "image.tar"), tag)
    _docker("rmi", tag)
    key = SigningKey(Ed25519PrivateKey.generate())
    fields = {"runtime_version": "9.9.9-rc.1", "python_version": "3.11", "solvers": {},
              "image_reference": tag, "image_digest": image_id}
    pack_runtime(folder / "image.tar", fields, key, folder / "tiny.mprt")
    yield Package(folder / "tiny.mprt", image_id, "9.9.9-rc.1", key)
    subprocess.run(["docker", "rmi", "-f", image_id], capture_output=True)


class Fetcher:
    """Streams a package file in small chunks and counts how often it was fetched."""

    def __init__(self, path: Path) -> None:
        self.path, self.calls = path, 0

    def __call__(self) -> AsyncIterator[bytes]:
        self.calls += 1
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        with open(self.path, "rb") as f:  # noqa: ASYNC230 - a small local test file
            while chunk := f.read(7000):
                yield chunk


async def _drop(host: DockerHost, image_id: str) -> None:
    try:
        await host.docker.images.delete(image_id, force=True)
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise


async def test_loads_once_when_asked_concurrently(host: DockerHost, package: Package) -> None:
    fetch = Fetcher(package.path)
    trusted = TrustedKeys([package.key.public_key])
    try:
        assert not await has_image(host, package.image_id)
        got = await asyncio.gather(*(
            ensure_image(host, package.version, "modelport/tiny:1", package.image_id, fetch,
                         trusted_keys=trusted) for _ in range(4)))
        assert got == [package.image_id] * 4 and fetch.calls == 1
        assert await has_image(host, package.image_id)
        tagged = await host.docker.images.inspect("modelport/tiny:1")
        assert tagged["Id"] == package.image_id
        await ensure_image(host, package.version, "modelport/tiny:1", package.image_id, fetch)
        assert fetch.calls == 1  # present: not fetched again
    finally:
        await _drop(host, package.image_id)


async def test_wrong_runtime_refused(host: DockerHost, package: Package) -> None:
    other = "sha256:" + "0" * 64
    with pytest.raises(BadPackage, match="not 9.9.9-rc.1"):
        await ensure_image(host, package.version, "x:1", other, Fetcher(package.path))
    assert not await has_image(host, package.image_id)


async def test_untrusted_signature_refused(host: DockerHost, package: Package) -> None:
    stranger = TrustedKeys([SigningKey(Ed25519PrivateKey.generate()).public_key])
    with pytest.raises(UntrustedKey):
        await ensure_image(host, package.version, "x:1", package.image_id,
                           Fetcher(package.path), trusted_keys=stranger)
    assert not await has_image(host, package.image_id)


async def test_torn_package_refused(host: DockerHost, package: Package,
                                    tmp_path: Path) -> None:
    torn = tmp_path / "torn.mprt"
    torn.write_bytes(package.path.read_bytes()[:3000])
    with pytest.raises(BadPackage):
        await ensure_image(host, package.version, "x:1", package.image_id, Fetcher(torn))
