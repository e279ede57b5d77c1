"""Packing, verifying, decrypting and unpacking ~200 MB never holds the data in memory."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from common.packages import (
    PlatformPrivateKey,
    SigningKey,
    TrustedKeys,
    decrypt_app,
    pack_app,
    pack_runtime,
    parse_app_toml,
    unpack_app,
    verify_runtime,
)
from common.packages.appcrypto import open_encryptor
from common.packages.limits import MiB
from tests.packages.conftest import APP_TOML

pytestmark = pytest.mark.slow

SIZE = 200 * MiB
PEAK_LIMIT = 64 * MiB  # generous: the code works in 1 MiB blocks


def peak_of(work: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``work``; return its result and the peak of Python allocations while it ran."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def sparse_file(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


class HashSink:
    """A write-only stream that keeps only a SHA-256 and a count."""

    def __init__(self) -> None:
        self.sha256, self.size = hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


def test_runtime_of_200_mb(
    tmp_path: Path, runtime_fields: dict[str, Any], signing_key: SigningKey, trusted: TrustedKeys
) -> None:
    image = sparse_file(tmp_path / "image.tar", SIZE)
    out = tmp_path / "big.mprt"
    _, pack_peak = peak_of(lambda: pack_runtime(image, runtime_fields, signing_key, out))
    manifest, verify_peak = peak_of(lambda: verify_runtime(out, trusted))
    assert manifest.members["image.tar"].size == SIZE
    assert pack_peak < PEAK_LIMIT, pack_peak
    assert verify_peak < PEAK_LIMIT, verify_peak


def test_encrypted_stream_of_200_mb(tmp_path: Path, platform_key: PlatformPrivateKey) -> None:
    block = os.urandom(MiB)
    expected = hashlib.sha256()
    package = tmp_path / "big.mpapp"

    def encrypt() -> None:
        with open(package, "wb") as f:
            with open_encryptor(f, platform_key.public_key, parse_app_toml(APP_TOML)) as sealer:
                for i in range(SIZE // MiB):
                    piece = block[i % 7 :] + block[: i % 7]  # vary the data a little
                    expected.update(piece)
                    sealer.write(piece)

    _, encrypt_peak = peak_of(encrypt)
    sink = HashSink()

    def decrypt() -> None:
        with open(package, "rb") as f:
            decrypt_app(f, platform_key, sink)  # type: ignore[arg-type]

    _, decrypt_peak = peak_of(decrypt)
    assert (sink.size, sink.sha256.digest()) == (SIZE, expected.digest())
    assert encrypt_peak < PEAK_LIMIT, encrypt_peak
    assert decrypt_peak < PEAK_LIMIT, decrypt_peak


def test_app_with_a_200_mb_file(
    tmp_path: Path, app_dir: Path, platform_key: PlatformPrivateKey
) -> None:
    sparse_file(app_dir / "data/big.bin", SIZE)
    package = tmp_path / "big.mpapp"
    _, pack_peak = peak_of(lambda: pack_app(app_dir, platform_key.public_key, package))
    dest = tmp_path / "unpacked"
    _, unpack_peak = peak_of(lambda: unpack_app(package, platform_key, dest))
    assert (dest / "data/big.bin").stat().st_size == SIZE
    assert pack_peak < PEAK_LIMIT, pack_peak
    assert unpack_peak < PEAK_LIMIT, unpack_peak
