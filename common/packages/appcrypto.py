"""The encryption layer of app packages: header, key agreement and chunked AES-256-GCM.

Layout: ``magic(8) | version(u16 BE) | header length L (u32 BE) | header (L bytes, canonical
JSON) | chunks``. The key comes from an ephemeral X25519 exchange with the platform key and
HKDF-SHA256. The payload is cut into chunks of ``chunk_size`` plaintext bytes, the last one
shorter (possibly empty). Chunk ``i`` is sealed with nonce ``nonce_base XOR i`` and associated
data ``SHA-256(header bytes) | i (u64 BE) | final flag (1 byte)``, so a changed header, a
flipped byte, reordered, dropped or cut chunks all fail authentication.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Annotated, Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import AfterValidator, Field

from common.packages.canonical import canonical_json, load_canonical
from common.packages.errors import (
    BadKey,
    NotAPackage,
    TamperedCiphertext,
    TooLarge,
    Truncated,
    UnsupportedFormat,
    WrongKey,
)
from common.packages.keys import PlatformPrivateKey, PlatformPublicKey, decode_raw_key
from common.packages.limits import KiB, MiB, PackageLimits
from common.packages.manifests import AppManifest, KeyId, StrictModel, validate_model

MAGIC = b"MPAPP\x00\r\n"
FORMAT_VERSION = 1
PREFIX = struct.Struct(">8sHI")
CIPHER: Final = "x25519-hkdf-sha256-aes256gcm-stream"
KDF_INFO = b"modelport app package v1"
TAG_BYTES = 16
DEFAULT_CHUNK_SIZE = MiB
MIN_CHUNK_SIZE, MAX_CHUNK_SIZE = KiB, 16 * MiB
MAX_CHUNKS = 2**32


def _raw_key(text: str) -> str:
    try:
        decode_raw_key(text, "key")
    except BadKey as exc:
        raise ValueError(exc.message) from None
    return text


class AppHeader(StrictModel):
    """The plaintext, authenticated header of an app package."""

    format: Literal["modelport-app"]
    app: AppManifest
    recipient_key_id: KeyId
    ephemeral_public_key: Annotated[str, AfterValidator(_raw_key)]
    chunk_size: int = Field(ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE)
    cipher: Literal["x25519-hkdf-sha256-aes256gcm-stream"]
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


def derive_keys(shared: bytes, ephemeral: bytes, recipient: bytes) -> tuple[bytes, bytes]:
    """HKDF-SHA256 → (32-byte AES key, 12-byte nonce base)."""
    hkdf = HKDF(hashes.SHA256(), length=44, salt=ephemeral + recipient, info=KDF_INFO)
    okm = hkdf.derive(shared)
    return okm[:32], okm[32:]


def chunk_nonce(nonce_base: bytes, index: int) -> bytes:
    """The 12-byte nonce of chunk ``index``: the base XOR the index (as a 96-bit integer)."""
    return (int.from_bytes(nonce_base, "big") ^ index).to_bytes(12, "big")


def chunk_aad(header_hash: bytes, index: int, final: bool) -> bytes:
    """Associated data of chunk ``index``: header hash, index (u64 BE), final flag byte."""
    return header_hash + struct.pack(">QB", index, int(final))


class ChunkSealer:
    """A write-only stream that encrypts what it gets in sealed chunks; ``close()`` ends it."""

    def __init__(self, out: IO[bytes], key: bytes, nonce_base: bytes, header: bytes, size: int):
        self._out, self._aead, self._base = out, AESGCM(key), nonce_base
        self._hash, self._size = hashlib.sha256(header).digest(), size
        self._buf, self._index, self._closed = bytearray(), 0, False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        while view:
            take = min(self._size - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == self._size:
                self._seal(final=False)
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """Write the final (short, possibly empty) chunk. Idempotent."""
        if not self._closed:
            self._seal(final=True)
            self._closed = True

    def _seal(self, final: bool) -> None:
        if self._index >= MAX_CHUNKS:
            raise TooLarge("app package: too many chunks")
        nonce = chunk_nonce(self._base, self._index)
        aad = chunk_aad(self._hash, self._index, final)
        self._out.write(self._aead.encrypt(nonce, bytes(self._buf), aad))
        self._buf.clear()
        self._index += 1


@contextmanager
def open_encryptor(
    out: IO[bytes],
    recipient: PlatformPublicKey,
    app: AppManifest,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[ChunkSealer]:
    """Write a header for ``recipient`` to ``out`` and yield the sealer for the payload.

    The final chunk is written when the block exits without an error.
    """
    ephemeral = X25519PrivateKey.generate()
    eph_raw = ephemeral.public_key().public_bytes_raw()
    header = AppHeader(
        format="modelport-app",
        app=app,
        recipient_key_id=recipient.key_id,
        ephemeral_public_key=base64.b64encode(eph_raw).decode(),
        chunk_size=chunk_size,
        cipher=CIPHER,
        payload="tar+gzip",
    )
    raw_header = encode_header(header)
    out.write(raw_header)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.raw))
    sealer = ChunkSealer(out, *derive_keys(shared, eph_raw, recipient.raw), raw_header, chunk_size)
    yield sealer
    sealer.close()


def decrypt_stream(
    stream_in: IO[bytes], key: PlatformPrivateKey, out: IO[bytes], limits: PackageLimits
) -> AppHeader:
    """Decrypt an app package from ``stream_in`` into ``out``, chunk by chunk; return its header.

    Plaintext is written before later chunks are checked: treat ``out`` as untrusted until
    this returns. Raises the header errors of :func:`read_header`, :class:`WrongKey`,
    :class:`TamperedCiphertext`, :class:`Truncated` or :class:`TooLarge`.
    """
    header, raw_header = read_header(stream_in, limits)
    if header.recipient_key_id != key.key_id:
        raise WrongKey(
            f"app package is encrypted for key {header.recipient_key_id}, not {key.key_id}"
        )
    eph_raw = base64.b64decode(header.ephemeral_public_key)
    try:
        shared = key.exchange(eph_raw)
    except ValueError:
        raise TamperedCiphertext("app package: invalid ephemeral public key") from None
    aes_key, base = derive_keys(shared, eph_raw, key.public_key.raw)
    opener = _ChunkOpener(aes_key, base, hashlib.sha256(raw_header).digest(), header.chunk_size)
    opener.run(stream_in, out, limits.max_app_bytes)
    return header


class _ChunkOpener:
    def __init__(self, key: bytes, nonce_base: bytes, header_hash: bytes, size: int) -> None:
        self.aead, self.base, self.hash, self.size = AESGCM(key), nonce_base, header_hash, size

    def run(self, stream_in: IO[bytes], out: IO[bytes], max_bytes: int) -> None:
        index = total = 0
        while True:
            block = read_exact(stream_in, self.size + TAG_BYTES)
            final = len(block) < self.size + TAG_BYTES
            if final and len(block) < TAG_BYTES:
                raise Truncated(f"app package ends before its final chunk (at chunk {index})")
            plain = self._open(block, index, final)
            total += len(plain)
            if total > max_bytes:
                raise TooLarge(f"app package payload exceeds {max_bytes} bytes")
            out.write(plain)
            if final:
                break
            index += 1
        if stream_in.read(1):
            raise TamperedCiphertext("app package: data after the final chunk")

    def _open(self, block: bytes, index: int, final: bool) -> bytes:
        try:
            aad = chunk_aad(self.hash, index, final)
            return self.aead.decrypt(chunk_nonce(self.base, index), block, aad)
        except InvalidTag:
            raise TamperedCiphertext(
                f"app package: chunk {index} fails authentication "
                "(modified, reordered or cut data, or a changed header)"
            ) from None
