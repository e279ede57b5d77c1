"""Runtime packages: a signed, uncompressed tar of manifest.json, signature.json and image.tar.

The members come in that order, so a reader of a stream checks the signature before it reads
the (large) image, and hashes the image in fixed-size blocks, never holding it whole.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from common.packages.canonical import canonical_json
from common.packages.errors import (
    NotAPackage,
    PackageError,
    TamperedMember,
    TooLarge,
    Truncated,
)
from common.packages.keys import SigningKey, TrustedKeys
from common.packages.limits import DEFAULT_LIMITS, MiB, PackageLimits
from common.packages.manifests import (
    IMAGE_MEMBER,
    MemberDigest,
    RuntimeManifest,
    parse_runtime_manifest,
    parse_signature,
    validate_model,
)
from common.packages.tarsafe import check_member, guarded_tarinfo

MANIFEST_MEMBER = "manifest.json"
SIGNATURE_MEMBER = "signature.json"
MEMBER_ORDER = (MANIFEST_MEMBER, SIGNATURE_MEMBER, IMAGE_MEMBER)
HASH_BLOCK = MiB


class _HashingReader:
    """A reader that hashes and counts what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.sha256, self.size = raw, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data


def file_digest(path: str | os.PathLike[str]) -> MemberDigest:
    """SHA-256 and size of a file, read in 1 MiB blocks."""
    with open(path, "rb") as f:
        reader = _HashingReader(f)
        while reader.read(HASH_BLOCK):
            pass
    return MemberDigest(sha256=reader.sha256.hexdigest(), size=reader.size)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(created: str) -> int:
    return int(datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def build_runtime_manifest(fields: Mapping[str, Any], image: MemberDigest) -> RuntimeManifest:
    """Complete the publisher's ``fields`` (runtime_version, python_version, solvers,
    image_reference, image_digest, optional created) into a validated manifest.

    Raises :class:`BadManifest` naming the field.
    """
    data = {"format_version": 1, "created": _now(), **fields}
    data["members"] = {IMAGE_MEMBER: image.model_dump()}
    manifest: RuntimeManifest = validate_model(RuntimeManifest, data, "runtime manifest")
    return manifest


def signature_document(manifest_bytes: bytes, signing_key: SigningKey) -> bytes:
    """The canonical signature.json bytes for ``manifest_bytes``."""
    signature = base64.b64encode(signing_key.sign(manifest_bytes)).decode()
    doc = {"algorithm": "ed25519", "key_id": signing_key.key_id, "signature": signature}
    return canonical_json(doc)


def pack_runtime(
    image_tar: str | os.PathLike[str],
    manifest_fields: Mapping[str, Any],
    signing_key: SigningKey,
    out_path: str | os.PathLike[str],
) -> RuntimeManifest:
    """Write a signed runtime package of ``image_tar`` (a ``docker save`` output) to ``out_path``.

    The image is read twice in 1 MiB blocks (hash, then copy; the copy is re-hashed so a file
    changing underneath is caught). The package appears atomically. Returns the manifest;
    raises :class:`BadManifest` for a bad field, :class:`PackageError` if the image changed.
    """
    manifest = build_runtime_manifest(manifest_fields, file_digest(image_tar))
    manifest_bytes = manifest.canonical_bytes()
    mtime = _epoch(manifest.created)
    out = Path(out_path)
    part = out.with_name(out.name + ".part")
    try:
        with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, MANIFEST_MEMBER, io.BytesIO(manifest_bytes), len(manifest_bytes), mtime)
            signature = signature_document(manifest_bytes, signing_key)
            _add(tar, SIGNATURE_MEMBER, io.BytesIO(signature), len(signature), mtime)
            _add_image(tar, image_tar, manifest.members[IMAGE_MEMBER], mtime)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return manifest


def _add(tar: tarfile.TarFile, name: str, data: Any, size: int, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    tar.addfile(info, data)


def _add_image(
    tar: tarfile.TarFile, path: str | os.PathLike[str], digest: MemberDigest, mtime: int
) -> None:
    with open(path, "rb") as f:
        reader = _HashingReader(f)
        _add(tar, IMAGE_MEMBER, reader, digest.size, mtime)
    if reader.sha256.hexdigest() != digest.sha256:
        raise PackageError(f"{path}: the image changed while it was being packed")


def verify_runtime(
    path: str | os.PathLike[str], trusted_keys: TrustedKeys, limits: PackageLimits = DEFAULT_LIMITS
) -> RuntimeManifest:
    """Verify the runtime package at ``path``; see :func:`verify_runtime_stream`."""
    with open(path, "rb") as f:
        return verify_runtime_stream(f, trusted_keys, limits)


def verify_runtime_stream(
    stream: IO[bytes], trusted_keys: TrustedKeys, limits: PackageLimits = DEFAULT_LIMITS
) -> RuntimeManifest:
    """Verify a runtime package read once, front to back, from ``stream`` (need not seek).

    Checks the archive's structure, the signature (by a trusted key) over manifest.json, the
    manifest's schema, and image.tar's size and SHA-256. Returns the manifest; raises
    :class:`NotAPackage`, :class:`UnsafePath`, :class:`TooLarge`, :class:`Truncated`,
    :class:`UntrustedKey`, :class:`BadSignature`, :class:`BadManifest` or
    :class:`TamperedMember`.
    """
    tarinfo = guarded_tarinfo(limits.max_tar_meta_bytes)
    try:
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=tarinfo) as tar:
            return _verify_members(tar, iter(tar), trusted_keys, limits)
    except tarfile.ReadError as exc:
        if "unexpected end of data" in str(exc):
            raise Truncated("runtime package: data ends inside a member") from None
        raise NotAPackage(f"not a runtime package: not an uncompressed tar ({exc})") from None


def _verify_members(
    tar: tarfile.TarFile,
    members: Iterator[tarfile.TarInfo],
    trusted_keys: TrustedKeys,
    limits: PackageLimits,
) -> RuntimeManifest:
    manifest_bytes = _read_small(tar, _next_member(members, MANIFEST_MEMBER), limits)
    signature_bytes = _read_small(tar, _next_member(members, SIGNATURE_MEMBER), limits)
    signature = parse_signature(signature_bytes)
    trusted_keys.verify(signature.key_id, signature.raw_signature(), manifest_bytes)
    manifest = parse_runtime_manifest(manifest_bytes)
    _check_image(tar, _next_member(members, IMAGE_MEMBER), manifest.members[IMAGE_MEMBER], limits)
    extra = next(members, None)
    if extra is not None:
        raise NotAPackage(f"runtime package: unexpected member {extra.name!r}")
    return manifest


def _next_member(members: Iterator[tarfile.TarInfo], expected: str) -> tarfile.TarInfo:
    info = next(members, None)
    if info is None:
        raise Truncated(f"runtime package ends before member {expected!r}")
    name = check_member(info)
    if name != expected or not info.isreg():
        order = ", ".join(MEMBER_ORDER)
        raise NotAPackage(f"runtime package: found {name!r} where {expected!r} belongs ({order})")
    return info


def _read_small(tar: tarfile.TarFile, info: tarfile.TarInfo, limits: PackageLimits) -> bytes:
    if info.size > limits.max_json_bytes:
        raise TooLarge(f"{info.name}: {info.size} bytes, limit {limits.max_json_bytes}")
    f = tar.extractfile(info)
    assert f is not None  # a regular member
    return f.read()


def _check_image(
    tar: tarfile.TarFile, info: tarfile.TarInfo, expected: MemberDigest, limits: PackageLimits
) -> None:
    if info.size > limits.max_image_bytes:
        raise TooLarge(f"{IMAGE_MEMBER}: {info.size} bytes, limit {limits.max_image_bytes}")
    if info.size != expected.size:
        raise TamperedMember(f"{IMAGE_MEMBER}: {info.size} bytes, manifest says {expected.size}")
    f = tar.extractfile(info)
    assert f is not None  # a regular member
    reader = _HashingReader(f)
    while reader.read(HASH_BLOCK):
        pass
    if reader.sha256.hexdigest() != expected.sha256:
        raise TamperedMember(f"{IMAGE_MEMBER}: sha256 differs from the signed manifest")
