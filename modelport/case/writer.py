"""Writing a case: tables to Parquet (zstd), then header, manifest and members into a zip."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelport.case.errors import CaseError
from modelport.case.schema import (
    FORMAT_VERSION,
    HEADER_NAME,
    MAGIC,
    MANIFEST_NAME,
    Entry,
    IdentifierInfo,
    Manifest,
    check_info,
)
from modelport.case.tables import to_table

GENERATOR = "modelport"
SPOOL_BYTES = 16 << 20
CHUNK = 1 << 20
ZIP64_FROM = (1 << 31) - (1 << 20)


@dataclass(frozen=True)
class Written:
    """What ``write_case`` wrote: the manifest, and the container's size and sha256."""

    manifest: Manifest
    size: int
    sha256: str


class _HashingWriter:
    """A write-only stream that counts and hashes what passes through it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.size += len(data)
        self.digest.update(data)
        return self.inner.write(data)

    def flush(self) -> None:
        self.inner.flush()


def infer_info(name: str, values: Any) -> IdentifierInfo:
    """Guess an identifier's description from its values (used without declarations).

    A list is a set; a mapping is a parameter over ``dim1``..``dimN``; else a scalar. The type
    follows the values: all str -> string, all int -> integer, else real.
    """
    if isinstance(values, list | tuple):
        return IdentifierInfo(name, "set", (), "string")
    domain: tuple[str, ...] = ()
    items: list[Any] = [values]
    if isinstance(values, Mapping):
        first = next(iter(values), "")
        arity = len(first) if isinstance(first, tuple) else 1
        domain = tuple(f"dim{i + 1}" for i in range(arity))
        items = list(values.values())
    return IdentifierInfo(name, "parameter", domain, _infer_type(items))


def _infer_type(items: list[Any]) -> str:
    present = [v for v in items if v is not None]
    if present and all(isinstance(v, str) for v in present):
        return "string"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "integer"
    return "real"


def _spool_parquet(table: pa.Table) -> tuple[IO[bytes], int, str]:
    # Parquet goes to an Arrow buffer, never to a Python file object: pyarrow can call back
    # into such objects from its thread pool while the interpreter exits, which aborts it.
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", use_dictionary=True)
    data = memoryview(sink.getvalue())
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    spool.write(data)
    spool.seek(0)
    return spool, len(data), hashlib.sha256(data).hexdigest()


def _zip_info(name: str, when: dt.datetime, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def _resolve_infos(
    data: Mapping[str, Any], identifiers: Sequence[IdentifierInfo] | None
) -> list[IdentifierInfo]:
    if identifiers is None:
        return [infer_info(name, values) for name, values in data.items()]
    known = {info.name: info for info in identifiers}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise CaseError("unknown_identifier", f"no description for {', '.join(unknown)}")
    return [info for info in identifiers if info.name in data]


def write_case(
    dest: str | Path | IO[bytes],
    app_name: str,
    app_version: str,
    data: Mapping[str, Any],
    *,
    identifiers: Sequence[IdentifierInfo] | None = None,
    metadata: Mapping[str, Any] | None = None,
    created: dt.datetime | None = None,
) -> Written:
    """Write ``data`` (identifier name -> normalised values) as a case to a path or stream.

    ``identifiers`` describe kind, domain, type and unit (guessed by ``infer_info`` when
    omitted); ``metadata`` is free JSON kept in the manifest (e.g. lineage). A stream need
    not be seekable. Returns the manifest with the container's size and sha256. Raises
    CaseError (bad_data, unknown_identifier) before writing anything.
    """
    when = (created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    infos = _resolve_infos(data, identifiers)
    for info in infos:
        check_info(info)
    members, entries = _serialise(infos, data)
    manifest = Manifest(FORMAT_VERSION, app_name, app_version,
                        when.isoformat().replace("+00:00", "Z"), entries, dict(metadata or {}))
    try:
        if isinstance(dest, str | Path):
            with open(dest, "wb") as handle:
                return _write_zip(handle, manifest, members, when)
        return _write_zip(dest, manifest, members, when)
    finally:
        for spool in members.values():
            spool.close()


def _serialise(
    infos: list[IdentifierInfo], data: Mapping[str, Any]
) -> tuple[dict[str, IO[bytes]], dict[str, Entry]]:
    members: dict[str, IO[bytes]] = {}
    entries: dict[str, Entry] = {}
    try:
        for info in infos:
            table = to_table(info, data[info.name])
            members[info.path], size, sha = _spool_parquet(table)
            entries[info.name] = Entry(info, table.num_rows, size, sha)
    except BaseException:
        for spool in members.values():
            spool.close()
        raise
    return members, entries


def _write_zip(
    out: IO[bytes], manifest: Manifest, members: Mapping[str, IO[bytes]], when: dt.datetime
) -> Written:
    sink = _HashingWriter(out)
    manifest_bytes = json.dumps(manifest.to_json(GENERATOR), indent=1).encode()
    header = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
    }
    with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[call-overload]
        archive.writestr(_zip_info(HEADER_NAME, when, zipfile.ZIP_STORED), json.dumps(header))
        archive.writestr(_zip_info(MANIFEST_NAME, when, zipfile.ZIP_DEFLATED), manifest_bytes)
        for path, spool in members.items():
            big = spool.seek(0, 2) > ZIP64_FROM
            spool.seek(0)
            info = _zip_info(path, when, zipfile.ZIP_STORED)
            with archive.open(info, "w", force_zip64=big) as member:
                shutil.copyfileobj(spool, member, CHUNK)
    sink.flush()
    return Written(manifest, sink.size, sink.digest.hexdigest())
