"""Packages written from docs/package-formats.md alone (raw primitives) are accepted."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import struct
import tarfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common.packages import (
    PlatformPrivateKey,
    PublisherKey,
    TrustedKeys,
    unpack_app,
    verify_runtime,
)


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_runtime_written_from_the_spec(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    raw_public = private.public_key().public_bytes_raw()
    image = b"pretend docker save output" * 1000
    manifest = canonical(
        {
            "format_version": 1,
            "runtime_version": "2.0.0-rc.1",
            "python_version": "3.12.1",
            "solvers": {"highs": "1.7.2", "cbc": "2.10.11"},
            "image_reference": "registry.example:5000/mp/runtime@sha256:" + "0" * 64,
            "image_digest": "sha256:" + "1" * 64,
            "created": "2030-01-02T03:04:05Z",
            "members": {"image.tar": {"sha256": hashlib.sha256(image).hexdigest(), "size": 26000}},
        }
    )
    signature = canonical(
        {
            "algorithm": "ed25519",
            "key_id": hashlib.sha256(raw_public).hexdigest()[:16],
            "signature": base64.b64encode(private.sign(manifest)).decode(),
        }
    )
    path = tmp_path / "spec.mprt"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (
            ("manifest.json", manifest),
            ("signature.json", signature),
            ("image.tar", image),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    trusted = TrustedKeys(
        [PublisherKey.from_text("mp-ed25519 " + base64.b64encode(raw_public).decode())]
    )
    assert verify_runtime(path, trusted).solvers == {"highs": "1.7.2", "cbc": "2.10.11"}


def test_app_written_from_the_spec(tmp_path: Path, platform_key: PlatformPrivateKey) -> None:
    app = {
        "name": "spec-app",
        "version": "0.1.0",
        "title": "Spec",
        "runtime": ">=1",
        "entry": "m:a",
    }
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        toml = "".join(f'{k} = "{v}"\n' for k, v in app.items()).encode()
        for name, data in (("app.toml", toml), ("m.py", b"a = 1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    payload = gzip.compress(tar_bytes.getvalue())

    chunk_size = 1024
    P = platform_key.public_key.raw
    e = X25519PrivateKey.generate()
    E = e.public_key().public_bytes_raw()
    header_json = canonical(
        {
            "format": "modelport-app",
            "app": app,
            "recipient_key_id": hashlib.sha256(P).hexdigest()[:16],
            "ephemeral_public_key": base64.b64encode(E).decode(),
            "chunk_size": chunk_size,
            "cipher": "x25519-hkdf-sha256-aes256gcm-stream",
            "payload": "tar+gzip",
        }
    )
    header = b"MPAPP\x00\r\n" + struct.pack(">HI", 1, len(header_json)) + header_json
    shared = e.exchange(X25519PublicKey.from_public_bytes(P))
    okm = HKDF(SHA256(), 44, salt=E + P, info=b"modelport app package v1").derive(shared)
    aead, base, H = (
        AESGCM(okm[:32]),
        int.from_bytes(okm[32:], "big"),
        hashlib.sha256(header).digest(),
    )
    pieces = [payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)]
    if not pieces or len(pieces[-1]) == chunk_size:
        pieces.append(b"")
    out = [header]
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        nonce = (base ^ i).to_bytes(12, "big")
        out.append(aead.encrypt(nonce, piece, H + struct.pack(">QB", i, final)))
    package = tmp_path / "spec.mpapp"
    package.write_bytes(b"".join(out))

    header_read = unpack_app(package, platform_key, tmp_path / "out")
    assert header_read.app.name == "spec-app"
    assert (tmp_path / "out/m.py").read_text() == "a = 1\n"
