"""ensure_image: docker load from a signed runtime package, no registry, and nothing loaded
unless the whole package verified first (sha256 the backend named, trusted signature, image
digest of the signed manifest)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import subprocess
import tarfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.docker import BadPackage, DockerHost, ensure_image, has_image
from common.packages import SigningKey, TrustedKeys, pack_runtime
from common.packages.runtime import signature_document


@dataclass(frozen=True)
class Package:
    path: Path
    image_id: str
    version: str
    key: SigningKey
    tag: str  # the tag inside image.tar: a load of it, even a broken one, would bring it back

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


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
    yield Package(folder / "tiny.mprt", image_id, "9.9.9-rc.1", key, tag)
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


async def _exists(host: DockerHost, name: str) -> bool:
    try:
        await host.docker.images.inspect(name)
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            return False
        raise
    return True


async def _load(host: DockerHost, package: Package, path: Path | None = None, *,
                sha256: str | None = None, trusted: TrustedKeys | None = None,
                digest: str | None = None) -> str:
    source = path or package.path
    return await ensure_image(
        host, package.version, "modelport/tiny:1", digest or package.image_id,
        Fetcher(source), package_sha256=sha256 or hashlib.sha256(source.read_bytes()).hexdigest(),
        trusted_keys=trusted or TrustedKeys([package.key.public_key]))


async def _refused(host: DockerHost, package: Package, match: str, path: Path | None = None,
                   **kwargs: object) -> None:
    """The load fails with BadPackage matching ``match`` and the engine holds neither the
    image nor the tag its tar carries (a docker load of any part of it would restore one)."""
    with pytest.raises(BadPackage, match=match):
        await _load(host, package, path, **kwargs)  # type: ignore[arg-type]
    assert not await has_image(host, package.image_id)
    assert not await _exists(host, package.tag)


def _rewrite(package: Package, out: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """A copy of the package with each member's data passed through ``change``."""
    with tarfile.open(package.path) as src, tarfile.open(out, "w",
                                                        format=tarfile.PAX_FORMAT) as dst:
        for info in src.getmembers():
            handle = src.extractfile(info)
            assert handle is not None
            data = change(info.name, handle.read())
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


async def test_loads_once_when_asked_concurrently(host: DockerHost, package: Package) -> None:
    fetch = Fetcher(package.path)
    trusted = TrustedKeys([package.key.public_key])
    try:
        assert not await has_image(host, package.image_id)
        got = await asyncio.gather(*(
            ensure_image(host, package.version, "modelport/tiny:1", package.image_id, fetch,
                         package_sha256=package.sha256, trusted_keys=trusted)
            for _ in range(4)))
        assert got == [package.image_id] * 4 and fetch.calls == 1
        assert await has_image(host, package.image_id)
        tagged = await host.docker.images.inspect("modelport/tiny:1")
        assert tagged["Id"] == package.image_id
        await ensure_image(host, package.version, "modelport/tiny:1", package.image_id, fetch,
                           package_sha256=package.sha256, trusted_keys=trusted)
        assert fetch.calls == 1  # present: not fetched again
    finally:
        await _drop(host, package.image_id)
        await _drop(host, package.tag)


async def test_package_other_than_the_backend_named_loads_nothing(
    host: DockerHost, package: Package
) -> None:
    await _refused(host, package, f"not {'0' * 64} as the backend named", sha256="0" * 64)


async def test_wrong_runtime_loads_nothing(host: DockerHost, package: Package) -> None:
    await _refused(host, package, "not 9.9.9-rc.1", digest="sha256:" + "0" * 64)


async def test_untrusted_signature_loads_nothing(host: DockerHost, package: Package) -> None:
    stranger = TrustedKeys([SigningKey(Ed25519PrivateKey.generate()).public_key])
    await _refused(host, package, "untrusted_key: ", trusted=stranger)


async def test_bad_signature_loads_nothing(host: DockerHost, package: Package,
                                           tmp_path: Path) -> None:
    """signature.json by the trusted key, but over other bytes than this manifest."""
    def change(name: str, data: bytes) -> bytes:
        return signature_document(b"another manifest", package.key) if (
            name == "signature.json") else data

    forged = _rewrite(package, tmp_path / "forged.mprt", change)
    await _refused(host, package, "bad_signature: ", forged)


async def test_tampered_image_loads_nothing(host: DockerHost, package: Package,
                                            tmp_path: Path) -> None:
    """One byte of image.tar changed (the sha256 the backend named is that of the tampered
    file, as if S3 and the record were both changed): the signed manifest catches it."""
    def change(name: str, data: bytes) -> bytes:
        if name != "image.tar":
            return data
        at = data.index(b"made for one test run")
        return data[:at] + b"M" + data[at + 1:]

    tampered = _rewrite(package, tmp_path / "tampered.mprt", change)
    await _refused(host, package, "tampered_member: image.tar: sha256 differs", tampered)


async def test_torn_package_loads_nothing(host: DockerHost, package: Package,
                                          tmp_path: Path) -> None:
    torn = tmp_path / "torn.mprt"
    torn.write_bytes(package.path.read_bytes()[:3000])
    await _refused(host, package, "truncated: ", torn)
    await _refused(host, package, "as the backend named", torn, sha256=package.sha256)


async def test_endless_package_is_cut_at_the_limit(host: DockerHost, package: Package) -> None:
    """A fetch that never ends (here 40 MiB of zeros) stops being spooled at the limit."""
    from common.packages import PackageLimits

    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(640):
            sent += 1
            yield bytes(64 << 10)

    with pytest.raises(BadPackage, match=r"runtime package: more than 1049600 bytes"):
        await ensure_image(host, package.version, "x:1", package.image_id, endless,
                           package_sha256=package.sha256,
                           trusted_keys=TrustedKeys([package.key.public_key]),
                           limits=PackageLimits(max_image_bytes=1024))
    assert sent == 17  # 1 MiB + 1 KiB is crossed by the 17th chunk of 64 KiB
    assert not await has_image(host, package.image_id)
