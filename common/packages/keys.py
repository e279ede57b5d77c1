"""Keys: publisher signing keys (Ed25519), the platform key (X25519), the trusted-keys list.

Public keys travel as one line of text, ``<kind> <base64 of the 32 raw bytes> [comment]`` with
kind ``mp-ed25519`` (a publisher) or ``mp-x25519`` (the platform). A key's id is the first 16
hex digits of the SHA-256 of its 32 raw bytes. Private keys are PKCS#8 PEM files of mode 0600.

The platform key is also an age X25519 key: its public half is the recipient ``age1…`` and its
private half the identity ``AGE-SECRET-KEY-1…`` (Bech32 of the same 32 raw bytes), so app
packages can be made and opened with age's own tools; a platform key file may hold either form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bech32
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from common.packages.errors import BadKey, BadSignature, UntrustedKey

ED25519_KIND = "mp-ed25519"
X25519_KIND = "mp-x25519"
_RAW = (ser.Encoding.Raw, ser.PublicFormat.Raw)
AGE_RECIPIENT_HRP = "age"
AGE_IDENTITY_HRP = "age-secret-key-"


def key_id(raw_public_key: bytes) -> str:
    """The id of a public key: the first 16 hex digits of SHA-256 over its 32 raw bytes."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def decode_raw_key(text: str, what: str) -> bytes:
    """Decode standard base64 of a 32-byte raw key; raise :class:`BadKey` otherwise."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise BadKey(f"{what}: not base64") from None
    if len(raw) != 32:
        raise BadKey(f"{what}: a key is 32 bytes, got {len(raw)}")
    return raw


def to_bech32(hrp: str, raw: bytes) -> str:
    """Bech32 (BIP 173) of ``raw`` under ``hrp``, as age writes its keys (lowercase)."""
    words = bech32.convertbits(raw, 8, 5)
    assert words is not None
    return str(bech32.bech32_encode(hrp, words))


def from_bech32(text: str, hrp: str, what: str) -> bytes:
    """The 32 raw bytes of an age key in Bech32 under ``hrp``; raises :class:`BadKey`."""
    if text != text.lower() and text != text.upper():
        raise BadKey(f"{what}: mixed case")
    found, words = bech32.bech32_decode(text.lower())
    raw = bytes(bech32.convertbits(words, 5, 8, False) or b"") if words is not None else b""
    if found != hrp or len(raw) != 32:
        raise BadKey(f"{what}: not an age key ({hrp}1…)")
    return raw


def _key_line(kind: str, raw: bytes, comment: str) -> str:
    return f"{kind} {base64.b64encode(raw).decode()} {comment}".rstrip()


def _parse_line(line: str, kind: str, what: str) -> tuple[bytes, str]:
    parts = line.strip().split(maxsplit=2)
    if len(parts) < 2 or parts[0] != kind:
        raise BadKey(f"{what}: expected '{kind} <base64 key> [comment]'")
    return decode_raw_key(parts[1], what), parts[2] if len(parts) == 3 else ""


@dataclass(frozen=True)
class PublisherKey:
    """A publisher's Ed25519 public key; it verifies runtime signatures."""

    raw: bytes
    comment: str = ""

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    def to_text(self) -> str:
        """The one-line text form, ``mp-ed25519 <base64> [comment]``."""
        return _key_line(ED25519_KIND, self.raw, self.comment)

    @classmethod
    def from_text(cls, line: str, what: str = "public key") -> PublisherKey:
        """Parse the one-line text form; raises :class:`BadKey`."""
        raw, comment = _parse_line(line, ED25519_KIND, what)
        return cls(raw, comment)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise :class:`BadSignature` unless ``signature`` is this key's over ``data``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            raise BadSignature(f"signature does not verify with key {self.key_id}") from None


@dataclass(frozen=True)
class SigningKey:
    """A publisher's Ed25519 private key."""

    private: Ed25519PrivateKey

    @property
    def public_key(self) -> PublisherKey:
        return PublisherKey(self.private.public_key().public_bytes(*_RAW))

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self.private.sign(data)


@dataclass(frozen=True)
class PlatformPublicKey:
    """The platform's X25519 public key; apps are encrypted for it."""

    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    def to_base64(self) -> str:
        return base64.b64encode(self.raw).decode()

    @classmethod
    def from_base64(cls, text: str) -> PlatformPublicKey:
        """Read the base64 form served at ``/api/v1/platform-key``; raises :class:`BadKey`."""
        return cls(decode_raw_key(text.strip(), "platform public key"))

    def to_text(self, comment: str = "") -> str:
        return _key_line(X25519_KIND, self.raw, comment)

    @classmethod
    def from_text(cls, line: str) -> PlatformPublicKey:
        """Read ``mp-x25519 <base64> [comment]``; raises :class:`BadKey`."""
        return cls(_parse_line(line, X25519_KIND, "platform public key")[0])

    def to_age(self) -> str:
        """The age recipient ``age1…`` of this key."""
        return to_bech32(AGE_RECIPIENT_HRP, self.raw)

    @classmethod
    def from_age(cls, text: str) -> PlatformPublicKey:
        """Read an age X25519 recipient ``age1…``; raises :class:`BadKey`."""
        return cls(from_bech32(text.strip(), AGE_RECIPIENT_HRP, "age recipient"))

    def to_json(self) -> dict[str, str]:
        """The body of ``GET /api/v1/platform-key``."""
        return {"algorithm": "x25519", "key_id": self.key_id, "public_key": self.to_base64()}


@dataclass(frozen=True)
class PlatformPrivateKey:
    """The platform's X25519 private key; only it decrypts apps."""

    private: X25519PrivateKey

    @property
    def public_key(self) -> PlatformPublicKey:
        return PlatformPublicKey(self.private.public_key().public_bytes(*_RAW))

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    def exchange(self, peer_raw: bytes) -> bytes:
        """The X25519 shared secret with a peer's raw public key."""
        return self.private.exchange(X25519PublicKey.from_public_bytes(peer_raw))

    def to_age(self) -> str:
        """The age identity ``AGE-SECRET-KEY-1…`` of this key (a secret: never log it)."""
        raw = self.private.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw,
                                         ser.NoEncryption())
        return to_bech32(AGE_IDENTITY_HRP, raw).upper()

    @classmethod
    def from_age(cls, text: str) -> PlatformPrivateKey:
        """Read an age identity ``AGE-SECRET-KEY-1…``; raises :class:`BadKey`."""
        raw = from_bech32(text.strip(), AGE_IDENTITY_HRP, "age identity")
        return cls(X25519PrivateKey.from_private_bytes(raw))


def _private_pem(key: Ed25519PrivateKey | X25519PrivateKey, passphrase: bytes | None) -> bytes:
    enc: ser.KeySerializationEncryption = (
        ser.BestAvailableEncryption(passphrase) if passphrase else ser.NoEncryption()
    )
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, enc)


def generate_signing_key(comment: str = "", passphrase: bytes | None = None) -> tuple[bytes, str]:
    """Create a publisher key pair: (private PKCS#8 PEM, public ``mp-ed25519`` line)."""
    private = Ed25519PrivateKey.generate()
    public = SigningKey(private).public_key
    return _private_pem(private, passphrase), PublisherKey(public.raw, comment).to_text()


def generate_platform_key(comment: str = "") -> tuple[bytes, str]:
    """Create the platform key pair: (private PKCS#8 PEM, public ``mp-x25519`` line)."""
    private = X25519PrivateKey.generate()
    return _private_pem(private, None), PlatformPrivateKey(private).public_key.to_text(comment)


def _load_pem(pem: bytes, passphrase: bytes | None, what: str) -> object:
    try:
        return ser.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"{what}: cannot read private key ({exc})") from None


def signing_key_from_pem(pem: bytes, passphrase: bytes | None = None) -> SigningKey:
    """Read an Ed25519 PKCS#8 PEM; raises :class:`BadKey`."""
    key = _load_pem(pem, passphrase, "signing key")
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey("signing key: not an Ed25519 private key")
    return SigningKey(key)


def platform_key_from_pem(pem: bytes) -> PlatformPrivateKey:
    """Read an X25519 PKCS#8 PEM, or an age identity file (``age-keygen`` output: ``#``
    comment lines and one ``AGE-SECRET-KEY-1…`` line); raises :class:`BadKey`."""
    lines = [line.strip() for line in pem.splitlines() if line.strip()]
    keys = [line for line in lines if not line.startswith(b"#")]
    if len(keys) == 1 and keys[0].upper().startswith(b"AGE-SECRET-KEY-1"):
        return PlatformPrivateKey.from_age(keys[0].decode("ascii", "replace"))
    key = _load_pem(pem, None, "platform key")
    if not isinstance(key, X25519PrivateKey):
        raise BadKey("platform key: not an X25519 private key")
    return PlatformPrivateKey(key)


def read_private_pem(path: str | os.PathLike[str]) -> bytes:
    """Read a private key file, refusing one that group or others may access (like ssh)."""
    try:
        with open(path, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & 0o077:
                raise BadKey(f"{path}: private key has mode {mode:04o}; run chmod 600 on it")
            return f.read()
    except OSError as exc:
        raise BadKey(f"{path}: {exc.strerror}") from None


def load_signing_key(path: str | os.PathLike[str], passphrase: bytes | None = None) -> SigningKey:
    """Load a publisher's private key file (mode 0600); raises :class:`BadKey`."""
    return signing_key_from_pem(read_private_pem(path), passphrase)


def load_platform_key(path: str | os.PathLike[str]) -> PlatformPrivateKey:
    """Load the platform's private key file (mode 0600); raises :class:`BadKey`."""
    return platform_key_from_pem(read_private_pem(path))


def save_private_key(path: str | os.PathLike[str], pem: bytes, *, overwrite: bool = False) -> None:
    """Write a private key with mode 0600; refuses to replace a file unless ``overwrite``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise BadKey(f"{path}: exists; not replacing a key") from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(pem)


def save_public_key(path: str | os.PathLike[str], text: str) -> None:
    """Write a public key line (mode 0644)."""
    Path(path).write_text(text.rstrip("\n") + "\n", encoding="utf-8")


class TrustedKeys:
    """The publisher keys whose runtime signatures the platform accepts."""

    def __init__(self, keys: Iterable[PublisherKey] = ()) -> None:
        self._keys = {key.key_id: key for key in keys}

    @classmethod
    def from_text(cls, text: str, source: str = "<text>") -> TrustedKeys:
        """Parse ``mp-ed25519`` lines; blank lines and ``#`` comments are skipped."""
        return cls(_parse_lines(text, source))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrustedKeys:
        """Read a file of key lines, or every ``*.pub`` file in a directory; raises ``BadKey``."""
        p = Path(path)
        files = sorted(p.glob("*.pub")) if p.is_dir() else [p]
        try:
            return cls(key for f in files for key in _parse_lines(f.read_text("utf-8"), str(f)))
        except (OSError, UnicodeDecodeError) as exc:
            raise BadKey(f"{path}: cannot read trusted keys ({exc})") from None

    @classmethod
    def load_optional(cls, path: str) -> TrustedKeys:
        """The keys at ``path``; none (every runtime refused) when ``path`` is empty."""
        return cls.load(path) if path else cls()

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def get(self, key_id: str) -> PublisherKey:
        """The trusted key of ``key_id``; raises :class:`UntrustedKey`."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise UntrustedKey(f"key {key_id} is not in the trusted keys") from None

    def verify(self, key_id: str, signature: bytes, data: bytes) -> PublisherKey:
        """Check ``signature`` over ``data`` by trusted key ``key_id``; return that key.

        Raises :class:`UntrustedKey` or :class:`BadSignature`.
        """
        key = self.get(key_id)
        key.verify(signature, data)
        return key


def _parse_lines(text: str, source: str) -> Iterator[PublisherKey]:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield PublisherKey.from_text(line, f"{source}:{number}")
