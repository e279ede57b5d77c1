"""Packages written from docs/package-formats.md alone (raw primitives, and age's own tools for
the app encryption) are accepted; packed apps open with age's tools."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import struct
import subprocess
import tarfile
from pathlib import Path

import bech32
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.packages import (
    PlatformPrivateKey,
    PublisherKey,
    TrustedKeys,
    list_app_files,
    load_platform_key,
    pack_app,
    unpack_app,
    verify_runtime,
    write_app_archive,
)
from common.packages.limits import DEFAULT_LIMITS


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


def age(*args: str, data: bytes = b"") -> bytes:
    """Run the age reference tools (Debian's ``age`` package, installed by scripts/test)."""
    return subprocess.run(list(args), input=data, capture_output=True, check=True,
                          timeout=60).stdout


def app_payload(app: dict[str, str]) -> bytes:
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        toml = "".join(f'{k} = "{v}"\n' for k, v in app.items()).encode()
        for name, data in (("app.toml", toml), ("m.py", b"a = 1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(tar_bytes.getvalue())


def test_app_written_from_the_spec_with_age_tools(tmp_path: Path) -> None:
    """The platform key made by age-keygen, the payload encrypted by age itself."""
    key_file = tmp_path / "platform.key"
    age("age-keygen", "-o", str(key_file))
    key_file.chmod(0o600)
    recipient = age("age-keygen", "-y", str(key_file)).decode().strip()
    hrp, words = bech32.bech32_decode(recipient)
    assert hrp == "age" and words is not None
    raw_public = bytes(bech32.convertbits(words, 5, 8, False) or b"")
    app = {"name": "spec-app", "version": "0.1.0", "title": "Spec", "runtime": ">=1",
           "entry": "m:a"}
    header_json = canonical({
        "format": "modelport-app",
        "app": app,
        "recipient_key_id": hashlib.sha256(raw_public).hexdigest()[:16],
        "encryption": "age",
        "payload": "tar+gzip",
    })
    header = b"MPAPP\x00\r\n" + struct.pack(">HI", 2, len(header_json)) + header_json
    package = tmp_path / "spec.mpapp"
    package.write_bytes(header + age("age", "-r", recipient, data=app_payload(app)))

    platform_key = load_platform_key(key_file)
    assert platform_key.public_key.to_age() == recipient
    header_read = unpack_app(package, platform_key, tmp_path / "out")
    assert header_read.app.name == "spec-app"
    assert (tmp_path / "out/m.py").read_text() == "a = 1\n"


def test_packed_app_opens_with_age_tools(
    tmp_path: Path, app_dir: Path, platform_key: PlatformPrivateKey
) -> None:
    """Cut the header (14 + L bytes) off a package and age -d gives the tar.gz payload."""
    package = tmp_path / "demo.mpapp"
    pack_app(app_dir, platform_key.public_key, package)
    data = package.read_bytes()
    length = struct.unpack(">I", data[10:14])[0]
    assert data[:10] == b"MPAPP\x00\r\n\x00\x02"
    identity = tmp_path / "identity.txt"
    identity.write_text(platform_key.to_age() + "\n")
    identity.chmod(0o600)
    payload = age("age", "-d", "-i", str(identity), data=data[14 + length:])
    expected = io.BytesIO()
    write_app_archive(app_dir, list_app_files(app_dir, DEFAULT_LIMITS), expected)
    assert payload == expected.getvalue()
