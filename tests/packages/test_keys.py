"""Publisher keys, the platform key, key files and the trusted-keys list."""

from __future__ import annotations

import base64
import hashlib
import stat
import subprocess
from pathlib import Path

import pytest
from pyrage import x25519

from common.packages import (
    BadKey,
    BadSignature,
    PlatformPublicKey,
    PublisherKey,
    SigningKey,
    TrustedKeys,
    UntrustedKey,
    generate_platform_key,
    generate_signing_key,
    load_platform_key,
    load_signing_key,
    platform_key_from_pem,
    save_private_key,
    save_public_key,
    signing_key_from_pem,
)


def test_signing_key_round_trip() -> None:
    pem, public_text = generate_signing_key("alice@laptop")
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    kind, b64, comment = public_text.split(" ", 2)
    assert (kind, comment) == ("mp-ed25519", "alice@laptop")
    key = signing_key_from_pem(pem)
    public = PublisherKey.from_text(public_text)
    assert public.raw == base64.b64decode(b64) == key.public_key.raw
    assert public.key_id == key.key_id == hashlib.sha256(public.raw).hexdigest()[:16]
    public.verify(key.sign(b"data"), b"data")
    with pytest.raises(BadSignature):
        public.verify(key.sign(b"data"), b"other data")


def test_passphrase_protected_key() -> None:
    pem, _ = generate_signing_key(passphrase=b"s3cret")
    assert b"ENCRYPTED" in pem
    assert isinstance(signing_key_from_pem(pem, b"s3cret"), SigningKey)
    with pytest.raises(BadKey):
        signing_key_from_pem(pem)
    with pytest.raises(BadKey):
        signing_key_from_pem(pem, b"wrong")


def test_private_key_file_is_0600_and_not_replaced(tmp_path: Path) -> None:
    pem, _ = generate_signing_key()
    path = tmp_path / "publisher.key"
    save_private_key(path, pem)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signing_key(path).key_id == signing_key_from_pem(pem).key_id
    with pytest.raises(BadKey, match="exists"):
        save_private_key(path, generate_signing_key()[0])
    save_private_key(path, pem, overwrite=True)


def test_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "publisher.key"
    path.write_bytes(generate_signing_key()[0])
    path.chmod(0o644)
    with pytest.raises(BadKey, match="chmod 600") as info:
        load_signing_key(path)
    assert info.value.code == "bad_key"


def test_missing_or_wrong_kind_of_key_file(tmp_path: Path) -> None:
    with pytest.raises(BadKey):
        load_signing_key(tmp_path / "absent.key")
    path = tmp_path / "platform.key"
    save_private_key(path, generate_platform_key()[0])
    with pytest.raises(BadKey, match="not an Ed25519"):
        load_signing_key(path)
    assert load_platform_key(path).key_id
    with pytest.raises(BadKey, match="not an X25519"):
        platform_key_from_pem(generate_signing_key()[0])


def test_platform_key_published_form() -> None:
    pem, public_text = generate_platform_key("prod")
    key = platform_key_from_pem(pem)
    public = PlatformPublicKey.from_text(public_text)
    assert public == key.public_key
    body = public.to_json()
    assert body == {
        "algorithm": "x25519",
        "key_id": public.key_id,
        "public_key": body["public_key"],
    }
    assert PlatformPublicKey.from_base64(body["public_key"]) == public
    assert public.key_id == hashlib.sha256(public.raw).hexdigest()[:16]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("not base64!", "not base64"),
        (base64.b64encode(b"short").decode(), "32 bytes"),
    ],
)
def test_bad_platform_key_text(text: str, problem: str) -> None:
    with pytest.raises(BadKey, match=problem):
        PlatformPublicKey.from_base64(text)


def test_trusted_keys_from_file_and_directory(tmp_path: Path, signing_key: SigningKey) -> None:
    other = signing_key_from_pem(generate_signing_key()[0])
    listing = tmp_path / "trusted.txt"
    listing.write_text(f"# publishers\n\n{signing_key.public_key.to_text()}\n")
    assert TrustedKeys.load(listing).key_ids == [signing_key.key_id]
    folder = tmp_path / "trusted.d"
    folder.mkdir()
    save_public_key(folder / "a.pub", signing_key.public_key.to_text())
    save_public_key(folder / "b.pub", other.public_key.to_text())
    (folder / "ignored.txt").write_text("not a key")
    trusted = TrustedKeys.load(folder)
    assert sorted(trusted.key_ids) == sorted([signing_key.key_id, other.key_id])
    assert trusted.verify(other.key_id, other.sign(b"m"), b"m").key_id == other.key_id


def test_trusted_keys_bad_line_names_file_and_line(tmp_path: Path) -> None:
    listing = tmp_path / "trusted.txt"
    listing.write_text("# ok\nmp-x25519 AAAA\n")
    with pytest.raises(BadKey, match=r"trusted.txt:2"):
        TrustedKeys.load(listing)


def test_trusted_keys_verify_errors(trusted: TrustedKeys, signing_key: SigningKey) -> None:
    stranger = signing_key_from_pem(generate_signing_key()[0])
    with pytest.raises(UntrustedKey) as info:
        trusted.verify(stranger.key_id, stranger.sign(b"m"), b"m")
    assert info.value.code == "untrusted_key" and stranger.key_id in info.value.message
    with pytest.raises(BadSignature) as bad:
        trusted.verify(signing_key.key_id, stranger.sign(b"m"), b"m")
    assert bad.value.code == "bad_signature"


def test_platform_key_in_age_form_matches_age_keygen(tmp_path: Path) -> None:
    """A key made by age-keygen is a platform key; its recipient is our public key's."""
    key_file = tmp_path / "platform.key"
    subprocess.run(["age-keygen", "-o", str(key_file)], check=True, capture_output=True)
    key_file.chmod(0o600)
    recipient = subprocess.run(["age-keygen", "-y", str(key_file)], check=True,
                               capture_output=True, text=True).stdout.strip()
    key = load_platform_key(key_file)
    assert key.public_key.to_age() == recipient
    assert PlatformPublicKey.from_age(recipient) == key.public_key
    secret = next(line for line in key_file.read_text().splitlines()
                  if line.startswith("AGE-SECRET-KEY-1"))
    assert key.to_age() == secret


def test_pem_platform_key_and_its_age_forms_agree() -> None:
    pem, line = generate_platform_key()
    key = platform_key_from_pem(pem)
    identity = x25519.Identity.from_str(key.to_age())
    assert str(identity.to_public()) == key.public_key.to_age()
    assert key.public_key.to_age().startswith("age1")
    again = platform_key_from_pem(f"# made here\n{key.to_age()}\n".encode())
    assert again.public_key == key.public_key == PlatformPublicKey.from_text(line)


@pytest.mark.parametrize(("text", "problem"), [
    ("age1qqqq", "not an age key"),
    ("AGE-SECRET-KEY-1QQQQ", "not an age key"),
    ("Age1" + "q" * 58, "mixed case"),
])
def test_bad_age_recipient(text: str, problem: str) -> None:
    with pytest.raises(BadKey, match=problem):
        PlatformPublicKey.from_age(text)


def test_age_identity_is_not_a_recipient() -> None:
    key = platform_key_from_pem(generate_platform_key()[0])
    with pytest.raises(BadKey, match="not an age key"):
        PlatformPublicKey.from_age(key.to_age())
