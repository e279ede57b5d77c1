"""Reading a case: every check of docs/case-format.md, then the tables in memory."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from modelport.case.decoding import read_table
from modelport.case.errors import CaseError
from modelport.case.safety import (
    Budget,
    Limits,
    Source,
    check_members,
    open_source,
    open_zip,
    read_member,
    sniff,
)
from modelport.case.schema import (
    HEADER_NAME,
    MAGIC,
    MANIFEST_NAME,
    SHA256_RE,
    SUPPORTED_VERSIONS,
    Entry,
    IdentifierInfo,
    Manifest,
    parse_manifest,
)
from modelport.case.tables import conform, to_values

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_LIMITS = Limits()


class Case:
    """A case read into memory: which app it belongs to and one table per identifier."""

    def __init__(self, manifest: Manifest, tables: dict[str, pa.Table]) -> None:
        self.manifest = manifest
        self._tables = tables

    @property
    def app_name(self) -> str:
        return self.manifest.app_name

    @property
    def app_version(self) -> str:
        return self.manifest.app_version

    @property
    def created(self) -> str:
        """When the case was written (RFC 3339, UTC)."""
        return self.manifest.created

    @property
    def metadata(self) -> dict[str, Any]:
        """Free JSON the writer kept (e.g. lineage of a result case)."""
        return self.manifest.metadata

    @property
    def names(self) -> list[str]:
        """Identifier names in manifest order."""
        return list(self.manifest.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.manifest.entries

    def info(self, name: str) -> IdentifierInfo:
        """Kind, domain, type and unit of ``name``; raises CaseError(unknown_identifier)."""
        return self._entry(name).info

    def table(self, name: str) -> pa.Table:
        """The identifier's table as a pyarrow Table (columns as in the manifest)."""
        self._entry(name)
        return self._tables[name]

    def frame(self, name: str) -> pd.DataFrame:
        """The identifier's table as a pandas DataFrame."""
        return self.table(name).to_pandas()

    def values(self, name: str) -> Any:
        """The identifier's values in the app kit's normalised form."""
        return to_values(self.info(name), self.table(name))

    def data(self) -> dict[str, Any]:
        """Every identifier's values, by name."""
        return {name: self.values(name) for name in self.names}

    def check_app(self, app_name: str, identifiers: Sequence[IdentifierInfo] | None = None) -> None:
        """Raise CaseError unless this is a case of ``app_name`` whose identifiers match
        ``identifiers``: wrong_app, unknown_identifier, or schema_mismatch (kind, domain
        or type differ; units may differ)."""
        if self.app_name != app_name:
            raise CaseError("wrong_app", f"this is a case of app {self.app_name!r}, "
                                         f"not of {app_name!r}")
        declared = {info.name: info for info in identifiers or []}
        for name in self.names if identifiers is not None else []:
            _check_against(self.info(name), declared.get(name))

    def _entry(self, name: str) -> Entry:
        try:
            return self.manifest.entries[name]
        except KeyError:
            raise CaseError("unknown_identifier", f"the case has no identifier {name!r}") from None


def _check_against(found: IdentifierInfo, declared: IdentifierInfo | None) -> None:
    if declared is None:
        raise CaseError("unknown_identifier", f"{found.name} is not declared by the app")
    if (found.kind, found.domain, found.type) != (declared.kind, declared.domain, declared.type):
        raise CaseError(
            "schema_mismatch",
            f"{found.name}: case has {found.kind} over {list(found.domain)} of type "
            f"{found.type}, app declares {declared.kind} over {list(declared.domain)} "
            f"of type {declared.type}",
        )


def read_case(source: Source, *, limits: Limits = DEFAULT_LIMITS) -> Case:
    """Read and check a case from a path, bytes or binary stream.

    Raises CaseError with code not_a_case, truncated, bad_header, unsupported_version,
    bad_manifest, unsafe_member, duplicate_member, unsupported_member, unexpected_member,
    missing_member, too_large, checksum_mismatch, corrupt_member or bad_table.
    """
    with open_source(source, limits) as fp:
        sniff(fp)
        with open_zip(fp) as archive:
            members = check_members(archive, limits)
            budget = Budget(limits.max_unpacked_bytes)
            decoded = Budget(limits.max_decoded_bytes)
            header = _read_header(archive, members[HEADER_NAME], budget, limits)
            manifest = _read_manifest(archive, members, budget, limits, header)
            _check_member_set(members, manifest)
            tables = {
                name: _read_table(archive, members[entry.info.path], entry, budget, decoded)
                for name, entry in manifest.entries.items()
            }
    return Case(manifest, tables)


def _json(raw: bytes, code: str, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaseError(code, f"{what} is not UTF-8 JSON ({exc})") from None


def _read_header(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, limits: Limits
) -> dict[str, Any]:
    header = _json(read_member(archive, info, budget, limits.max_header_bytes),
                   "bad_header", HEADER_NAME)
    if not isinstance(header, dict) or header.get("magic") != MAGIC:
        raise CaseError("not_a_case", f"{HEADER_NAME} lacks magic {MAGIC!r}")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CaseError("bad_header", f"{HEADER_NAME}: format_version is not an integer")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(map(str, sorted(SUPPORTED_VERSIONS)))
        raise CaseError("unsupported_version",
                        f"case format version {version}; this reader supports {supported}")
    if not isinstance(header.get("manifest_sha256"), str) or not SHA256_RE.match(
        header["manifest_sha256"]
    ):
        raise CaseError("bad_header", f"{HEADER_NAME}: manifest_sha256 is not a sha256 hex")
    return header


def _read_manifest(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], budget: Budget,
    limits: Limits, header: dict[str, Any],
) -> Manifest:
    if MANIFEST_NAME not in members:
        raise CaseError("missing_member", f"{MANIFEST_NAME} is missing")
    raw = read_member(archive, members[MANIFEST_NAME], budget, limits.max_manifest_bytes)
    if hashlib.sha256(raw).hexdigest() != header["manifest_sha256"]:
        raise CaseError("checksum_mismatch", f"{MANIFEST_NAME} does not match its sha256")
    manifest = parse_manifest(_json(raw, "bad_manifest", MANIFEST_NAME))
    if manifest.format_version != header["format_version"]:
        raise CaseError("bad_manifest", "manifest and header format versions differ")
    return manifest


def _check_member_set(members: dict[str, zipfile.ZipInfo], manifest: Manifest) -> None:
    listed = {entry.info.path for entry in manifest.entries.values()}
    missing = sorted(listed - set(members))
    if missing:
        raise CaseError("missing_member", f"member {missing[0]} listed in the manifest is missing")
    extra = sorted(set(members) - listed - {HEADER_NAME, MANIFEST_NAME})
    if extra:
        raise CaseError("unexpected_member", f"member {extra[0]!r} is not in the manifest")


def _read_table(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: Entry, budget: Budget,
    decoded: Budget,
) -> pa.Table:
    raw = read_member(archive, info, budget, entry.size, over="checksum_mismatch")
    if len(raw) != entry.size or hashlib.sha256(raw).hexdigest() != entry.sha256:
        raise CaseError("checksum_mismatch", f"member {entry.info.path} does not match "
                                             "the size and sha256 in the manifest")
    table = read_table(_arrow_owned(raw), entry.info, entry.info.path, entry.rows, decoded)
    table = conform(entry.info, table)
    if table.num_rows != entry.rows:
        raise CaseError("bad_table", f"{entry.info.name}: {table.num_rows} rows, "
                                     f"manifest says {entry.rows}")
    return table


def _arrow_owned(raw: bytes) -> pa.Buffer:
    """A copy of ``raw`` in Arrow's own memory.

    Parquet readers free their input on a pool thread; freeing a buffer that wraps Python
    ``bytes`` needs the GIL there, which aborts the process if that happens while the
    interpreter exits (seen with pyarrow 26; cf. apache/arrow#34314, #33975).
    """
    sink = pa.BufferOutputStream()
    sink.write(raw)
    return sink.getvalue()
