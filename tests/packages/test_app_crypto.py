"""App packages: encrypt for the platform, decrypt, unpack; and every way they can be bad."""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
import threading
from pathlib import Path

import pytest

from common.packages import (
    AppManifest,
    BadManifest,
    NotAPackage,
    PackageLimits,
    PlatformPrivateKey,
    TamperedCiphertext,
    TooLarge,
    Truncated,
    UnsafePath,
    UnsupportedFormat,
    WrongKey,
    decrypt_app,
    inspect_app_header,
    list_app_files,
    pack_app,
    parse_app_toml,
    unpack_app,
    verify_app,
    write_app_archive,
)
from common.packages.appcrypto import encrypt_stream
from common.packages.canonical import canonical_json
from common.packages.limits import DEFAULT_LIMITS
from tests.packages.conftest import APP_TOML
from tests.packages.helpers import member, write_tar

AGE_CHUNK = 64 * 1024  # age's payload chunk
SEALED = AGE_CHUNK + 16


@pytest.fixture(scope="module")
def manifest() -> AppManifest:
    return parse_app_toml(APP_TOML)


def encrypt(payload: bytes, key: PlatformPrivateKey, manifest: AppManifest) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(payload), out, key.public_key, manifest)
    return out.getvalue()


def decrypt(data: bytes, key: PlatformPrivateKey, limits: PackageLimits = DEFAULT_LIMITS) -> bytes:
    out = io.BytesIO()
    decrypt_app(io.BytesIO(data), key, out, limits)
    return out.getvalue()


def header_length(data: bytes) -> int:
    return 14 + int(struct.unpack(">I", data[10:14])[0])


def chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    """Everything up to age's first payload chunk (our header, age's header and the 16-byte
    payload nonce), and the sealed chunks."""
    age_mac_line = data.index(b"\n--- ", header_length(data))
    start = data.index(b"\n", age_mac_line + 1) + 1 + 16
    body = data[start:]
    return data[:start], [body[i : i + SEALED] for i in range(0, len(body), SEALED)]


def rewrite_header(data: bytes, change: dict[str, object]) -> bytes:
    start = header_length(data)
    header = json.loads(data[14:start])
    header.update(change)
    header = {k: v for k, v in header.items() if v is not None}
    body = canonical_json(header)
    return data[:10] + struct.pack(">I", len(body)) + body + data[start:]


@pytest.fixture
def sealed(platform_key: PlatformPrivateKey, manifest: AppManifest) -> tuple[bytes, bytes]:
    payload = os.urandom(4 * AGE_CHUNK + 100)  # four full age chunks and a short final one
    return payload, encrypt(payload, platform_key, manifest)


def test_pack_and_unpack_round_trip(app_dir: Path, platform_key: PlatformPrivateKey) -> None:
    package = app_dir.parent / "demo.mpapp"
    manifest = pack_app(app_dir, platform_key.public_key, package)
    header = inspect_app_header(package)
    assert header.app == manifest
    assert header.recipient_key_id == platform_key.key_id
    assert (header.encryption, header.payload) == ("age", "tar+gzip")
    assert package.read_bytes()[8:10] == b"\x00\x02"
    assert package.read_bytes()[header_length(package.read_bytes()):].startswith(
        b"age-encryption.org/v1\n-> X25519 ")
    dest = app_dir.parent / "unpacked"
    assert unpack_app(package, platform_key, dest).app.version == "1.2.0"
    files = list_app_files(app_dir, DEFAULT_LIMITS)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == files
    for rel in files:
        assert (dest / rel).read_bytes() == (app_dir / rel).read_bytes()


def test_payload_is_the_deterministic_archive(
    app_dir: Path, platform_key: PlatformPrivateKey
) -> None:
    package = app_dir.parent / "demo.mpapp"
    pack_app(app_dir, platform_key.public_key, package)
    expected = io.BytesIO()
    write_app_archive(app_dir, list_app_files(app_dir, DEFAULT_LIMITS), expected)
    assert decrypt(package.read_bytes(), platform_key) == expected.getvalue()


@pytest.mark.parametrize("size", [0, 1, AGE_CHUNK - 1, AGE_CHUNK, AGE_CHUNK + 1, 2 * AGE_CHUNK])
def test_stream_round_trip(
    size: int, platform_key: PlatformPrivateKey, manifest: AppManifest
) -> None:
    payload = os.urandom(size)
    data = encrypt(payload, platform_key, manifest)
    assert len(chunks(data)[1]) == max(1, -(-size // AGE_CHUNK))
    assert decrypt(data, platform_key) == payload


def test_decrypt_from_a_pipe(sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey) -> None:
    payload, data = sealed
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_fd, "rb") as r:
        out = io.BytesIO()
        decrypt_app(r, platform_key, out)
    writer.join(timeout=10)
    assert out.getvalue() == payload


def test_wrong_platform_key(
    sealed: tuple[bytes, bytes],
    platform_key: PlatformPrivateKey,
    other_platform_key: PlatformPrivateKey,
) -> None:
    with pytest.raises(WrongKey) as info:
        decrypt(sealed[1], other_platform_key)
    assert info.value.code == "wrong_key"
    assert platform_key.key_id in info.value.message


def test_header_claiming_another_recipient(
    sealed: tuple[bytes, bytes], other_platform_key: PlatformPrivateKey
) -> None:
    lying = rewrite_header(sealed[1], {"recipient_key_id": other_platform_key.key_id})
    with pytest.raises(TamperedCiphertext, match="opens with no platform key"):
        decrypt(lying, other_platform_key)


@pytest.mark.parametrize(
    "old, new, field",
    [
        (b'"version":"1.2.0"', b'"version":"1.2.1"', "version"),
        (b'"title":"Demo app"', b'"title":"Demo apq"', "title"),
        (b'"runtime":">=1.0,<2"', b'"runtime":">=1.0,<3"', "runtime"),
        (b'"name":"demo-app"', b'"name":"demo-apq"', "name"),
    ],
)
def test_tampered_header_field(
    app_dir: Path, platform_key: PlatformPrivateKey, tmp_path: Path,
    old: bytes, new: bytes, field: str,
) -> None:
    """age does not cover the readable header; the app.toml inside does."""
    package = tmp_path / "demo.mpapp"
    pack_app(app_dir, platform_key.public_key, package)
    data = package.read_bytes()
    assert old in data
    with pytest.raises(BadManifest, match="differs from its header") as info:
        verify_app(io.BytesIO(data.replace(old, new)), platform_key)
    assert info.value.field == field
    package.write_bytes(data.replace(old, new))
    with pytest.raises(BadManifest, match="differs from its header"):
        unpack_app(package, platform_key, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


@pytest.mark.parametrize("where", ["age magic", "age header", "first", "middle", "final tag"])
def test_flipped_byte(
    sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey, where: str
) -> None:
    data = bytearray(sealed[1])
    ours, start = header_length(bytes(data)), len(chunks(bytes(data))[0])
    at = {"age magic": ours, "age header": ours + 40, "first": start,
          "middle": start + 2 * SEALED + 500, "final tag": len(data) - 1}[where]
    data[at] ^= 0x80
    with pytest.raises(TamperedCiphertext):
        decrypt(bytes(data), platform_key)


def test_reordered_chunks(sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey) -> None:
    header, parts = chunks(sealed[1])
    parts[1], parts[2] = parts[2], parts[1]
    with pytest.raises(TamperedCiphertext, match="fails authentication"):
        decrypt(header + b"".join(parts), platform_key)


def test_dropped_or_repeated_chunk(
    sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey
) -> None:
    header, parts = chunks(sealed[1])
    with pytest.raises(TamperedCiphertext, match="fails authentication"):
        decrypt(header + b"".join(parts[:2] + parts[3:]), platform_key)
    with pytest.raises(TamperedCiphertext, match="fails authentication"):
        decrypt(header + b"".join([parts[0], *parts]), platform_key)


def test_truncated_at_a_chunk_boundary(
    sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey
) -> None:
    header, parts = chunks(sealed[1])
    with pytest.raises(TamperedCiphertext, match="cut") as info:
        decrypt(header + b"".join(parts[:-1]), platform_key)
    assert info.value.code == "tampered_ciphertext"


def test_truncated_inside_a_chunk(
    sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey
) -> None:
    header, parts = chunks(sealed[1])
    with pytest.raises(TamperedCiphertext, match="cut"):
        decrypt(header + b"".join(parts[:2]) + parts[2][:700], platform_key)


def test_truncated_header(sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey) -> None:
    for cut in (5, 12, 40):
        with pytest.raises(Truncated, match="inside its header"):
            decrypt(sealed[1][:cut], platform_key)
    ours = header_length(sealed[1])
    for cut in (ours, ours + 10):
        with pytest.raises(Truncated, match="inside its age header"):
            decrypt(sealed[1][:cut], platform_key)


def test_data_after_the_final_chunk(
    sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey
) -> None:
    for extra in (b"\0", os.urandom(SEALED + 1)):
        with pytest.raises(TamperedCiphertext, match="extended"):
            decrypt(sealed[1] + extra, platform_key)


@pytest.mark.parametrize(
    "data, error",
    [
        (b"", NotAPackage),
        (b"PK\x03\x04" + b"\0" * 100, NotAPackage),
        (b"MPAPP\x00\r\n\x00\x01\x00\x00\x00\x02{}", UnsupportedFormat),  # version 1
        (b"MPAPP\x00\r\n\x00\x03\x00\x00\x00\x02{}", UnsupportedFormat),
        (b"MPAPP\x00\r\n\x00\x02\x7f\x00\x00\x00{}", TooLarge),
    ],
)
def test_not_an_app_package(
    data: bytes, error: type[Exception], platform_key: PlatformPrivateKey, tmp_path: Path
) -> None:
    with pytest.raises(error):
        decrypt(data, platform_key)
    path = tmp_path / "x.mpapp"
    path.write_bytes(data)
    with pytest.raises(error):
        inspect_app_header(path)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"payload": None}, "payload"),
        ({"encryption": "rot13"}, "encryption"),
        ({"encryption": None}, "encryption"),
        ({"chunk_size": 1048576}, "chunk_size"),
        ({"app": {"name": "x"}}, "app.version"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_header_field_is_named(
    sealed: tuple[bytes, bytes],
    platform_key: PlatformPrivateKey,
    change: dict[str, object],
    field: str,
) -> None:
    with pytest.raises(BadManifest) as info:
        decrypt(rewrite_header(sealed[1], change), platform_key)
    assert info.value.field == field


def test_payload_over_the_limit(
    sealed: tuple[bytes, bytes], platform_key: PlatformPrivateKey, app_dir: Path
) -> None:
    with pytest.raises(TooLarge):
        decrypt(sealed[1], platform_key, PackageLimits(max_app_bytes=2 * AGE_CHUNK))
    out = app_dir.parent / "big.mpapp"
    with pytest.raises(TooLarge, match="compressed"):
        pack_app(app_dir, platform_key.public_key, out, PackageLimits(max_app_bytes=100))
    assert not out.exists() and not list(app_dir.parent.glob("*.part"))


def test_unpack_refuses_an_archive_unlike_its_header(
    app_dir: Path, platform_key: PlatformPrivateKey, manifest: AppManifest, tmp_path: Path
) -> None:
    archive = io.BytesIO()
    write_app_archive(app_dir, list_app_files(app_dir, DEFAULT_LIMITS), archive)
    claimed = manifest.model_copy(update={"version": "9.9.9"})
    package = tmp_path / "lying.mpapp"
    package.write_bytes(encrypt(archive.getvalue(), platform_key, claimed))
    dest = tmp_path / "dest"
    with pytest.raises(BadManifest, match="differs from its header") as info:
        unpack_app(package, platform_key, dest)
    assert info.value.field == "version"
    assert list(dest.iterdir()) == []


def test_unpack_refuses_unsafe_entries(
    platform_key: PlatformPrivateKey, manifest: AppManifest, tmp_path: Path
) -> None:
    evil = write_tar(tmp_path / "evil.tar.gz", [member("../escape.py", b"x")], gz=True)
    package = tmp_path / "evil.mpapp"
    package.write_bytes(encrypt(evil.read_bytes(), platform_key, manifest))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafePath, match="'..'"):
        unpack_app(package, platform_key, dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "escape.py").exists()


def test_verify_app_checks_everything_without_unpacking(
    app_dir: Path, platform_key: PlatformPrivateKey, tmp_path: Path
) -> None:
    package = tmp_path / "demo.mpapp"
    manifest = pack_app(app_dir, platform_key.public_key, package)
    with open(package, "rb") as f:
        assert verify_app(f, platform_key, tmp_dir=tmp_path).app == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app", "demo.mpapp"]
    data = bytearray(package.read_bytes())
    data[-100] ^= 1
    with pytest.raises(TamperedCiphertext):
        verify_app(io.BytesIO(bytes(data)), platform_key)


@pytest.mark.parametrize(
    "entries, error, match",
    [
        ([member("app.toml", APP_TOML.encode()), member("/etc/x", b"")], UnsafePath, "absolute"),
        ([member("data.csv", b"1,2")], BadManifest, "holds no app.toml"),
        ([member("app.toml", APP_TOML.replace("1.2.0", "1.2.1").encode())], BadManifest, "differs"),
        ([member("app.toml", b"\xff")], BadManifest, "UTF-8"),
    ],
)
def test_verify_app_refuses_bad_payloads(
    entries: list[tuple[tarfile.TarInfo, bytes]],
    error: type[Exception],
    match: str,
    platform_key: PlatformPrivateKey,
    manifest: AppManifest,
    tmp_path: Path,
) -> None:
    archive = write_tar(tmp_path / "payload.tar.gz", entries, gz=True)
    package = encrypt(archive.read_bytes(), platform_key, manifest)
    with pytest.raises(error, match=match):
        verify_app(io.BytesIO(package), platform_key)
