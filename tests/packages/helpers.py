"""Builders of hostile inputs for the package tests."""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
from collections.abc import Iterable
from pathlib import Path

from common.packages.canonical import canonical_json
from common.packages.keys import SigningKey


def member(name: str, data: bytes = b"", **attrs: object) -> tuple[tarfile.TarInfo, bytes]:
    """A tar entry: a regular file unless ``type`` etc. are given in ``attrs``."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def write_tar(
    path: Path, entries: Iterable[tuple[tarfile.TarInfo, bytes]], gz: bool = False
) -> Path:
    """Write entries as written, without any of tarfile's safety on the way in."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buf.getvalue()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def signature_for(manifest_bytes: bytes, key: SigningKey, key_id: str | None = None) -> bytes:
    """signature.json by ``key`` over ``manifest_bytes``, claiming ``key_id`` if given."""
    sig = base64.b64encode(key.sign(manifest_bytes)).decode()
    doc = {"algorithm": "ed25519", "key_id": key_id or key.key_id, "signature": sig}
    return canonical_json(doc)


def runtime_tar(path: Path, manifest: dict[str, object], key: SigningKey, image: bytes) -> Path:
    """A runtime package with any manifest (even an invalid one), signed by ``key``."""
    manifest_bytes = canonical_json(manifest)
    return write_tar(
        path,
        [
            member("manifest.json", manifest_bytes),
            member("signature.json", signature_for(manifest_bytes, key)),
            member("image.tar", image),
        ],
    )
