"""The encryption layer of app packages (format version 2): a readable header, then an age file.

Layout: ``magic(8) | version(u16 BE) = 2 | header length L (u32 BE) | header (L bytes,
canonical JSON) | an age v1 file`` (binary, https://age-encryption.org/v1) encrypted to the
platform's X25519 key as an age recipient. age authenticates its own header and every 64 KiB
chunk of the payload and detects a cut or extended file. The readable header is not covered
by age: every field of it is either fixed or checked after decryption (``recipient_key_id``
against the key; ``app`` against the app.toml inside, see ``app.verify_app``).

Encryption and decryption stream through ``pyrage`` (the Rust ``age`` crate) in bounded memory.
"""

from __future__ import annotations

import struct
from typing import IO, Literal

import pyrage
from pyrage import x25519

from common.packages.canonical import canonical_json, load_canonical
from common.packages.errors import (
    NotAPackage,
    TamperedCiphertext,
    TooLarge,
    Truncated,
    UnsupportedFormat,
    WrongKey,
)
from common.packages.keys import PlatformPrivateKey, PlatformPublicKey
from common.packages.limits import PackageLimits, SizeGuard
from common.packages.manifests import AppManifest, KeyId, StrictModel, validate_model

MAGIC = b"MPAPP\x00\r\n"
FORMAT_VERSION = 2
PREFIX = struct.Struct(">8sHI")


class AppHeader(StrictModel):
    """The plaintext header of an app package."""

    format: Literal["modelport-app"]
    app: AppManifest
    recipient_key_id: KeyId
    encryption: Literal["age"]
    payload: Literal["tar+gzip"]


def encode_header(header: AppHeader) -> bytes:
    """The header's bytes: magic, version, length and canonical JSON."""
    body = canonical_json(header.model_dump(mode="json", exclude_none=True))
    return PREFIX.pack(MAGIC, FORMAT_VERSION, len(body)) + body


def read_exact(stream: IO[bytes], size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of data."""
    data = bytearray()
    while len(data) < size:
        block = stream.read(size - len(data))
        if not block:
            break
        data += block
    return bytes(data)


def read_header(stream: IO[bytes], limits: PackageLimits) -> tuple[AppHeader, bytes]:
    """Read and validate the header; return it with its exact bytes.

    Raises :class:`NotAPackage`, :class:`UnsupportedFormat`, :class:`Truncated`,
    :class:`TooLarge` or :class:`BadManifest` (fields named ``app.version`` and so on).
    """
    prefix = read_exact(stream, PREFIX.size)
    if prefix[:8] != MAGIC[: len(prefix[:8])] or not prefix:
        raise NotAPackage("not an app package (bad magic)")
    if len(prefix) < PREFIX.size:
        raise Truncated("app package ends inside its header")
    _, version, length = PREFIX.unpack(prefix)
    if version != FORMAT_VERSION:
        raise UnsupportedFormat(
            f"app package format version {version}; this reads {FORMAT_VERSION}"
        )
    if length > limits.max_json_bytes:
        raise TooLarge(f"app package header of {length} bytes, limit {limits.max_json_bytes}")
    body = read_exact(stream, length)
    if len(body) < length:
        raise Truncated("app package ends inside its header")
    data = load_canonical(body, "app package header")
    header: AppHeader = validate_model(AppHeader, data, "app package header")
    return header, prefix + body


def new_header(recipient: PlatformPublicKey, app: AppManifest) -> AppHeader:
    return AppHeader(format="modelport-app", app=app, recipient_key_id=recipient.key_id,
                     encryption="age", payload="tar+gzip")


def encrypt_stream(payload: IO[bytes], out: IO[bytes], recipient: PlatformPublicKey,
                   app: AppManifest) -> None:
    """Write the header for ``recipient`` and ``app`` to ``out``, then ``payload`` (read to
    its end) as an age file encrypted to ``recipient``."""
    out.write(encode_header(new_header(recipient, app)))
    reader = _Reader(payload)
    try:
        pyrage.encrypt_io(reader, out, [x25519.Recipient.from_str(recipient.to_age())])
    except pyrage.EncryptError:
        reader.raise_own()
        raise


def _header_for(stream_in: IO[bytes], key: PlatformPrivateKey,
                limits: PackageLimits) -> AppHeader:
    """The header ``stream_in`` starts with; raises :class:`WrongKey` for another key."""
    header, _ = read_header(stream_in, limits)
    if header.recipient_key_id != key.key_id:
        raise WrongKey(
            f"app package is encrypted for key {header.recipient_key_id}, not {key.key_id}"
        )
    return header


def decrypt_stream(
    stream_in: IO[bytes], key: PlatformPrivateKey, out: IO[bytes], limits: PackageLimits
) -> AppHeader:
    """Decrypt an app package from ``stream_in`` into ``out``; return its header.

    Plaintext is written before later chunks are checked: treat ``out`` as untrusted until
    this returns. Raises the header errors of :func:`read_header`, :class:`WrongKey`,
    :class:`TamperedCiphertext`, :class:`Truncated` or :class:`TooLarge` (payload over
    ``max_app_bytes``).
    """
    header = _header_for(stream_in, key, limits)
    reader = _Reader(stream_in)
    writer = SizeGuard(out, limits.max_app_bytes, "the app package payload")
    try:
        pyrage.decrypt_io(reader, writer, [x25519.Identity.from_str(key.to_age())])
    except (pyrage.DecryptError, OSError) as exc:
        reader.raise_own()
        raise _age_error(exc, reader.count) from None
    return header


def _age_error(exc: Exception, read: int) -> Exception:
    """The package error for what age reported (its messages are few and terse)."""
    text = str(exc)
    if read == 0 or "failed to fill whole buffer" in text:
        return Truncated("app package ends inside its age header")
    if "No matching keys" in text:
        return TamperedCiphertext("app package: its age header opens with no platform key "
                                  "(encrypted for another key, or a changed age header)")
    return TamperedCiphertext(f"app package: the age payload fails authentication "
                              f"(modified, cut or extended data; age says: {text})")


class _Reader:
    """A stream handed to age that counts what it gives and keeps its own failure, so an
    I/O error of ours is not reported as a bad package."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.count = raw, 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.raw.read(size)
        except BaseException as exc:
            self.error = exc
            raise
        self.count += len(data)
        return data

    def raise_own(self) -> None:
        if self.error is not None:
            raise self.error
