"""Helpers that take a valid case apart and put it back together, changed, for the
reader's bad-input tests."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Member:
    name: str
    data: bytes
    compress: int = zipfile.ZIP_STORED
    external_attr: int = 0o644 << 16


@dataclass
class Parts:
    """A case as members, plus its decoded header and manifest for editing."""

    members: list[Member]
    header: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)


def explode(blob: bytes) -> Parts:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        members = [Member(i.filename, archive.read(i), i.compress_type) for i in archive.infolist()]
    parts = Parts(members)
    parts.header = json.loads(parts.get("modelport-case.json").data)
    parts.manifest = json.loads(parts.get("manifest.json").data)
    return parts


def pack(parts: Parts, *, reseal: bool = True) -> bytes:
    """Zip the parts; with ``reseal`` the edited manifest and header are re-encoded and
    the header's manifest_sha256 recomputed (so only the intended flaw remains)."""
    if reseal:
        manifest = json.dumps(parts.manifest).encode()
        parts.get("manifest.json").data = manifest
        parts.header["manifest_sha256"] = hashlib.sha256(manifest).hexdigest()
        parts.get("modelport-case.json").data = json.dumps(parts.header).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member in parts.members:
            info = zipfile.ZipInfo(member.name)
            info.compress_type = member.compress
            info.external_attr = member.external_attr
            archive.writestr(info, member.data)
    return out.getvalue()


def edit(blob: bytes, change: Callable[[Parts], None], *, reseal: bool = True) -> bytes:
    parts = explode(blob)
    change(parts)
    return pack(parts, reseal=reseal)


def entry(parts: Parts, name: str) -> dict[str, Any]:
    return next(e for e in parts.manifest["identifiers"] if e["name"] == name)


def replace_member(parts: Parts, name: str, data: bytes, *, update_manifest: bool) -> None:
    """Swap an identifier's Parquet bytes, optionally fixing its size and sha256."""
    member = parts.get(f"data/{name}.parquet")
    member.data = data
    if update_manifest:
        item = entry(parts, name)
        item["bytes"] = len(data)
        item["sha256"] = hashlib.sha256(data).hexdigest()


def understate_size(blob: bytes, name: str, size: int) -> bytes:
    """Patch the uncompressed size of member ``name`` in its local and central headers."""
    out = bytearray(blob)
    encoded = name.encode()
    # (signature, offset of the name, offset of the uncompressed size) per APPNOTE 4.3.7/12
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        start = out.index(signature)
        while out[start + name_at : start + name_at + len(encoded)] != encoded:
            start = out.index(signature, start + 4)
        out[start + size_at : start + size_at + 4] = size.to_bytes(4, "little")
    return bytes(out)
