"""The blocking checks run over an upload while it streams to S3 (see ``streaming.py``).

Each check reads its stream to the very end (a check that stopped early could let trailing
bytes into S3 unchecked) and returns what the registry needs to record. They run in a worker
thread, so they may block; they never hold a whole upload in memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from common.errors import ModelportError
from common.packages import (
    AppHeader,
    NotAPackage,
    PackageLimits,
    PlatformPrivateKey,
    PublisherKey,
    RuntimeManifest,
    TamperedCiphertext,
    TrustedKeys,
    verify_app,
    verify_runtime_stream,
)
from modelport.case import Case, CaseError, Limits, read_case

BLOCK = 1 << 20
CASE_SPOOL_BYTES = 16 << 20  # a case larger than this is spooled to a temporary file


@dataclass(frozen=True)
class RuntimeChecked:
    manifest: RuntimeManifest
    signer_key_id: str


@dataclass(frozen=True)
class CaseChecked:
    app_name: str
    app_version: str


class _RecordingKeys(TrustedKeys):
    """The trusted keys, remembering which one verified the signature."""

    def __init__(self, trusted: TrustedKeys) -> None:
        super().__init__(trusted.get(key_id) for key_id in trusted.key_ids)
        self.used: str = ""

    def verify(self, key_id: str, signature: bytes, data: bytes) -> PublisherKey:
        key = super().verify(key_id, signature, data)
        self.used = key.key_id
        return key


def runtime_check(
    trusted: TrustedKeys, limits: PackageLimits
) -> Callable[[IO[bytes]], RuntimeChecked]:
    """A check of a signed runtime package (see ``verify_runtime_stream``); raises PackageError."""

    def check(stream: IO[bytes]) -> RuntimeChecked:
        keys = _RecordingKeys(trusted)
        manifest = verify_runtime_stream(stream, keys, limits)
        _only_padding(stream)
        return RuntimeChecked(manifest, keys.used)

    return check


def _only_padding(stream: IO[bytes]) -> None:
    """After a tar's end, only NUL padding may follow."""
    while block := stream.read(BLOCK):
        if block.strip(b"\0"):
            raise NotAPackage("runtime package: data after the end of the archive")


def app_check(
    platform_key: PlatformPrivateKey, limits: PackageLimits
) -> Callable[[IO[bytes]], AppHeader]:
    """A check of an encrypted app package: every chunk decrypted and authenticated, the inner
    archive scanned, its app.toml compared with the header (``verify_app``); writes nothing
    but a temporary file. Raises PackageError."""

    def check(stream: IO[bytes]) -> AppHeader:
        header = verify_app(stream, platform_key, limits)
        if stream.read(1):  # verify_app refuses trailing data; this keeps that promise local
            raise TamperedCiphertext("app package: data after the final chunk")
        return header

    return check


def case_check(app: str, limits: Limits) -> Callable[[IO[bytes]], CaseChecked]:
    """A check that the stream is a readable case of ``app``.

    The case format is a zip, which needs seeking: the bytes are spooled to memory or a
    temporary file (the upload limit bounds them). Raises a ModelportError carrying the case
    reader's code (``not_a_case``, ``wrong_app``, ...).
    """

    def check(stream: IO[bytes]) -> CaseChecked:
        with tempfile.SpooledTemporaryFile(CASE_SPOOL_BYTES) as spool:
            while block := stream.read(BLOCK):
                spool.write(block)
            spool.seek(0)
            case = read_checked_case(spool, limits)
        try:
            case.check_app(app)
        except CaseError as exc:
            raise case_error(exc) from None
        return CaseChecked(case.app_name, case.app_version)

    return check


def read_checked_case(source: IO[bytes] | bytes, limits: Limits) -> Case:
    """``read_case`` with its CaseError turned into a ModelportError of the same code."""
    try:
        return read_case(source, limits=limits)
    except CaseError as exc:
        raise case_error(exc) from None


def case_error(exc: CaseError) -> ModelportError:
    """A case reader's error as the ModelportError an edge answers with (400, or 413)."""
    return ModelportError.from_dict({"code": exc.code, "message": exc.message,
                                     "status": exc.status})
