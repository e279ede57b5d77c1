"""Packing, verifying, decrypting and unpacking hundreds of MB never holds the data in memory.

Memory is the process's peak resident set (VmHWM, reset before the work), so what age (Rust,
through pyrage) allocates counts as much as Python's own allocations.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from common.packages import (
    PackageLimits,
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
from common.packages.appcrypto import encrypt_stream
from common.packages.limits import MiB
from tests.packages.conftest import APP_TOML

pytestmark = pytest.mark.slow

SIZE = 200 * MiB
AGE_SIZE = 512 * MiB
PEAK_LIMIT = 64 * MiB  # generous: the code works in 1 MiB blocks, age in 64 KiB chunks


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def peak_of(work: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``work``; return its result and how far the process's peak RSS rose above the
    RSS it had when the work began (the peak is reset first through /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _status_kib("VmRSS:")
    result = work()
    return result, (_status_kib("VmHWM:") - before) * 1024


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


class Payload:
    """A readable stream of ``size`` bytes made on the fly (a megabyte, rotated a little on
    each turn), hashed as it is read."""

    def __init__(self, size: int) -> None:
        self.block, self.left, self.turn = os.urandom(MiB), size, 0
        self.piece, self.at = b"", 0
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        if self.at == len(self.piece):
            self.turn += 1
            self.piece = (self.block[self.turn % 7 :] + self.block[: self.turn % 7])
            self.piece, self.at = self.piece[: max(self.left, 0)], 0
        end = len(self.piece) if size < 0 else min(len(self.piece), self.at + size)
        data = self.piece[self.at : end]
        self.at, self.left = end, self.left - len(data)
        self.sha256.update(data)
        return data


def test_encrypted_stream_of_512_mib(tmp_path: Path, platform_key: PlatformPrivateKey) -> None:
    package = tmp_path / "big.mpapp"
    payload = Payload(AGE_SIZE)

    def encrypt() -> None:
        with open(package, "wb") as f:
            encrypt_stream(payload, f, platform_key.public_key,  # type: ignore[arg-type]
                           parse_app_toml(APP_TOML))

    _, encrypt_peak = peak_of(encrypt)
    sink = HashSink()

    def decrypt() -> None:
        with open(package, "rb") as f:
            decrypt_app(f, platform_key, sink,  # type: ignore[arg-type]
                        PackageLimits(max_app_bytes=AGE_SIZE))

    _, decrypt_peak = peak_of(decrypt)
    assert (sink.size, sink.sha256.digest()) == (AGE_SIZE, payload.sha256.digest())
    assert encrypt_peak < PEAK_LIMIT, encrypt_peak
    assert decrypt_peak < PEAK_LIMIT, decrypt_peak


def test_peak_measure_sees_what_rust_or_python_holds() -> None:
    """The measure itself: holding 128 MiB (written, so resident) shows up."""
    _, peak = peak_of(lambda: len(b"\x01" * (128 * MiB)))
    assert peak >= 120 * MiB  # less any free memory the process already had


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
