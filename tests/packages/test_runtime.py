"""Runtime packages: pack + sign, verify, and every way a package can be bad."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from common.packages import (
    BadManifest,
    BadSignature,
    NotAPackage,
    PackageError,
    PackageLimits,
    SigningKey,
    TamperedMember,
    TooLarge,
    Truncated,
    TrustedKeys,
    UnsafePath,
    UntrustedKey,
    pack_runtime,
    verify_runtime,
    verify_runtime_stream,
)
from tests.packages.helpers import member, runtime_tar, signature_for, write_tar


@pytest.fixture
def package(
    tmp_path: Path, fake_image: Path, runtime_fields: dict[str, Any], signing_key: SigningKey
) -> Path:
    out = tmp_path / "runtime-1.4.0.mprt"
    pack_runtime(fake_image, runtime_fields, signing_key, out)
    return out


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def _manifest_dict(fake_image: Path, fields: dict[str, Any]) -> dict[str, Any]:
    data = fake_image.read_bytes()
    digest = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return {"format_version": 1, **fields, "members": {"image.tar": digest}}


def test_round_trip(package: Path, fake_image: Path, trusted: TrustedKeys) -> None:
    manifest = verify_runtime(package, trusted)
    assert manifest.runtime_version == "1.4.0"
    assert manifest.solvers == {"highs": "1.7.2"}
    image = manifest.members["image.tar"]
    assert image.size == fake_image.stat().st_size
    assert image.sha256 == hashlib.sha256(fake_image.read_bytes()).hexdigest()
    with tarfile.open(package) as tar:
        assert tar.getnames() == ["manifest.json", "signature.json", "image.tar"]
    members = _members(package)
    assert members["manifest.json"] == manifest.canonical_bytes()
    assert members["image.tar"] == fake_image.read_bytes()
    assert json.loads(members["signature.json"])["algorithm"] == "ed25519"


def test_verify_from_a_stream_that_cannot_seek(package: Path, trusted: TrustedKeys) -> None:
    class ReadOnly(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            return self.inner.readinto(b)

    stream = io.BufferedReader(ReadOnly(package.read_bytes()))
    assert verify_runtime_stream(stream, trusted).runtime_version == "1.4.0"


def test_signed_by_an_untrusted_key(
    tmp_path: Path,
    fake_image: Path,
    runtime_fields: dict[str, Any],
    other_signing_key: SigningKey,
    trusted: TrustedKeys,
) -> None:
    out = tmp_path / "rt.mprt"
    pack_runtime(fake_image, runtime_fields, other_signing_key, out)
    with pytest.raises(UntrustedKey) as info:
        verify_runtime(out, trusted)
    assert info.value.code == "untrusted_key"
    assert info.value.status == 400


def test_signature_by_another_key_claiming_a_trusted_id(
    tmp_path: Path,
    package: Path,
    signing_key: SigningKey,
    other_signing_key: SigningKey,
    trusted: TrustedKeys,
) -> None:
    members = _members(package)
    forged = signature_for(members["manifest.json"], other_signing_key, signing_key.key_id)
    bad = write_tar(
        tmp_path / "forged.mprt",
        [
            member("manifest.json", members["manifest.json"]),
            member("signature.json", forged),
            member("image.tar", members["image.tar"]),
        ],
    )
    with pytest.raises(BadSignature):
        verify_runtime(bad, trusted)


def test_tampered_manifest_breaks_the_signature(package: Path, trusted: TrustedKeys) -> None:
    data = package.read_bytes()
    package.write_bytes(data.replace(b'"runtime_version":"1.4.0"', b'"runtime_version":"9.4.0"'))
    with pytest.raises(BadSignature):
        verify_runtime(package, trusted)


def test_tampered_image_member(package: Path, fake_image: Path, trusted: TrustedKeys) -> None:
    data = bytearray(package.read_bytes())
    image_at = bytes(data).index(fake_image.read_bytes()[:64])
    data[image_at + 10_000] ^= 0x01
    package.write_bytes(bytes(data))
    with pytest.raises(TamperedMember, match="sha256") as info:
        verify_runtime(package, trusted)
    assert info.value.code == "tampered_member"


def test_image_of_another_size(
    tmp_path: Path,
    fake_image: Path,
    runtime_fields: dict[str, Any],
    signing_key: SigningKey,
    trusted: TrustedKeys,
) -> None:
    manifest = _manifest_dict(fake_image, runtime_fields)
    path = runtime_tar(tmp_path / "rt.mprt", manifest, signing_key, fake_image.read_bytes() + b"x")
    with pytest.raises(TamperedMember, match="bytes, manifest says"):
        verify_runtime(path, trusted)


@pytest.mark.parametrize("cut", [0.5, 1])
def test_truncated_inside_the_image(package: Path, trusted: TrustedKeys, cut: float) -> None:
    with tarfile.open(package) as tar:
        image = tar.getmember("image.tar")
    image_end = image.offset_data + image.size
    package.write_bytes(package.read_bytes()[: int(image_end * cut) - 1])
    with pytest.raises(Truncated):
        verify_runtime(package, trusted)


def test_truncated_before_the_image(package: Path, trusted: TrustedKeys) -> None:
    package.write_bytes(package.read_bytes()[: 512 * 4])
    with pytest.raises(Truncated, match="image.tar"):
        verify_runtime(package, trusted)


@pytest.mark.parametrize(
    "content", [b"", b"definitely not a tar" * 100, gzip.compress(b"x" * 2048)]
)
def test_not_a_package(tmp_path: Path, trusted: TrustedKeys, content: bytes) -> None:
    path = tmp_path / "x.mprt"
    path.write_bytes(content)
    with pytest.raises(NotAPackage) as info:
        verify_runtime(path, trusted)
    assert info.value.code == "not_a_package"


def test_members_out_of_order_or_extra(package: Path, tmp_path: Path, trusted: TrustedKeys) -> None:
    m = _members(package)
    swapped = [member(n, m[n]) for n in ("signature.json", "manifest.json", "image.tar")]
    with pytest.raises(NotAPackage, match="where 'manifest.json' belongs"):
        verify_runtime(write_tar(tmp_path / "a.mprt", swapped), trusted)
    extra = [member(n, m[n]) for n in ("manifest.json", "signature.json", "image.tar")]
    extra.append(member("run.sh", b"#!/bin/sh"))
    with pytest.raises(NotAPackage, match="unexpected member 'run.sh'"):
        verify_runtime(write_tar(tmp_path / "b.mprt", extra), trusted)


@pytest.mark.parametrize(
    "entry, problem",
    [
        (member("../manifest.json", b"{}"), "'..'"),
        (member("/manifest.json", b"{}"), "absolute"),
        (member("manifest.json", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "symbolic link"),
        (member("manifest.json", type=tarfile.LNKTYPE, linkname="image.tar"), "hard link"),
        (member("manifest.json", type=tarfile.CHRTYPE, devmajor=1, devminor=3), "device"),
    ],
)
def test_unsafe_members(
    tmp_path: Path, trusted: TrustedKeys, entry: tuple[tarfile.TarInfo, bytes], problem: str
) -> None:
    path = write_tar(tmp_path / "evil.mprt", [entry])
    with pytest.raises(UnsafePath, match=problem) as info:
        verify_runtime(path, trusted)
    assert info.value.code == "unsafe_path"


@pytest.mark.parametrize("missing", ["image_digest", "solvers", "created", "members"])
def test_signed_manifest_with_a_missing_field(
    tmp_path: Path,
    fake_image: Path,
    runtime_fields: dict[str, Any],
    signing_key: SigningKey,
    trusted: TrustedKeys,
    missing: str,
) -> None:
    manifest = _manifest_dict(fake_image, runtime_fields)
    del manifest[missing]
    path = runtime_tar(tmp_path / "rt.mprt", manifest, signing_key, fake_image.read_bytes())
    with pytest.raises(BadManifest) as info:
        verify_runtime(path, trusted)
    assert info.value.field == missing
    assert f"field '{missing}': missing" in info.value.message
    assert info.value.to_dict()["field"] == missing


@pytest.mark.parametrize(
    "field, value, named",
    [
        ("runtime_version", "1.4", "runtime_version"),
        ("image_digest", "md5:abc", "image_digest"),
        ("solvers", {"highs": 1}, "solvers.highs"),
        ("created", "yesterday", "created"),
        ("format_version", 2, "format_version"),
        ("surprise", "field", "surprise"),
    ],
)
def test_signed_manifest_with_a_wrong_field(
    tmp_path: Path,
    fake_image: Path,
    runtime_fields: dict[str, Any],
    signing_key: SigningKey,
    trusted: TrustedKeys,
    field: str,
    value: Any,
    named: str,
) -> None:
    manifest = {**_manifest_dict(fake_image, runtime_fields), field: value}
    path = runtime_tar(tmp_path / "rt.mprt", manifest, signing_key, fake_image.read_bytes())
    with pytest.raises(BadManifest) as info:
        verify_runtime(path, trusted)
    assert info.value.field == named
    assert info.value.code == "bad_manifest"


def test_manifest_not_in_canonical_form(
    tmp_path: Path,
    fake_image: Path,
    runtime_fields: dict[str, Any],
    signing_key: SigningKey,
    trusted: TrustedKeys,
) -> None:
    pretty = json.dumps(_manifest_dict(fake_image, runtime_fields), indent=2).encode()
    path = write_tar(
        tmp_path / "rt.mprt",
        [
            member("manifest.json", pretty),
            member("signature.json", signature_for(pretty, signing_key)),
            member("image.tar", fake_image.read_bytes()),
        ],
    )
    with pytest.raises(BadManifest, match="canonical"):
        verify_runtime(path, trusted)


def test_pack_names_a_bad_field(
    tmp_path: Path, fake_image: Path, runtime_fields: dict[str, Any], signing_key: SigningKey
) -> None:
    out = tmp_path / "rt.mprt"
    with pytest.raises(BadManifest) as info:
        pack_runtime(fake_image, {**runtime_fields, "python_version": "three"}, signing_key, out)
    assert info.value.field == "python_version"
    bare = {k: v for k, v in runtime_fields.items() if k != "image_reference"}
    with pytest.raises(BadManifest, match="'image_reference': missing"):
        pack_runtime(fake_image, bare, signing_key, out)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_pack_fills_in_created(
    tmp_path: Path, fake_image: Path, runtime_fields: dict[str, Any], signing_key: SigningKey
) -> None:
    del runtime_fields["created"]
    manifest = pack_runtime(fake_image, runtime_fields, signing_key, tmp_path / "rt.mprt")
    assert manifest.created.endswith("Z")


def test_limits(package: Path, trusted: TrustedKeys) -> None:
    with pytest.raises(TooLarge) as info:
        verify_runtime(package, trusted, PackageLimits(max_image_bytes=1000))
    assert info.value.status == 413
    with pytest.raises(TooLarge, match="manifest.json"):
        verify_runtime(package, trusted, PackageLimits(max_json_bytes=100))


def test_oversized_pax_header_is_refused_before_it_is_read(
    tmp_path: Path, trusted: TrustedKeys
) -> None:
    info, data = member("manifest.json", b"{}")
    info.pax_headers = {"comment": "x" * 200_000}
    path = write_tar(tmp_path / "pax.mprt", [(info, data)])
    with pytest.raises(TooLarge, match="metadata header"):
        verify_runtime(path, trusted)


def test_errors_form_one_hierarchy() -> None:
    for cls in (BadManifest, BadSignature, NotAPackage, TamperedMember, TooLarge, Truncated):
        assert issubclass(cls, PackageError)
