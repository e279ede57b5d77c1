"""Every way a case file can be wrong, each refused with its own error code."""

from __future__ import annotations

import io
import stat
import zipfile
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelport.case import CaseError, Limits, read_case
from tests.case.craft import Member, Parts, edit, entry, replace_member, understate_size


def code_of(blob: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(CaseError) as caught:
        read_case(blob, limits=limits or Limits())
    assert caught.value.message
    return caught.value.code


def parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue())


def plain_zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, b"{}")
    return out.getvalue()


@pytest.mark.parametrize("blob", [b"", b"hello world", b"PK\x03\x04short", b"\x89PNG" * 50])
def test_not_a_zip_is_not_a_case(blob: bytes) -> None:
    assert code_of(blob) == "not_a_case"


def test_zip_without_case_header_first_is_not_a_case() -> None:
    assert code_of(plain_zip(["readme.txt"])) == "not_a_case"
    assert code_of(plain_zip(["manifest.json", "modelport-case.json"])) == "not_a_case"


def test_wrong_magic_is_not_a_case(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.header["magic"] = "something-else"

    assert code_of(edit(case_bytes, change)) == "not_a_case"


@pytest.mark.parametrize(("version", "code"), [
    (2, "unsupported_version"), (0, "unsupported_version"), ("1", "bad_header"),
    (None, "bad_header"), (True, "bad_header"),
])
def test_format_version(case_bytes: bytes, version: Any, code: str) -> None:
    def change(parts: Parts) -> None:
        parts.header["format_version"] = version

    assert code_of(edit(case_bytes, change)) == code


def test_header_that_is_not_json(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.get("modelport-case.json").data = b"{not json"

    assert code_of(edit(case_bytes, change, reseal=False)) == "bad_header"


@pytest.mark.parametrize("keep", [0.99, 0.5, 0.1])
def test_truncated_file(case_bytes: bytes, keep: float) -> None:
    assert code_of(case_bytes[: int(len(case_bytes) * keep)]) == "truncated"
    assert code_of(case_bytes[:-1]) == "truncated"


def test_member_whose_sha256_does_not_match(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        other = parts.get("data/capacity.parquet").data
        replace_member(parts, "plants", other, update_manifest=False)

    assert code_of(edit(case_bytes, change)) == "checksum_mismatch"


def test_manifest_changed_after_sealing(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.get("manifest.json").data = parts.get("manifest.json").data.replace(
            b"transport", b"transpork"
        )

    assert code_of(edit(case_bytes, change, reseal=False)) == "checksum_mismatch"


def test_flipped_byte_in_a_member(case_bytes: bytes) -> None:
    blob = bytearray(case_bytes)
    at = case_bytes.index(b"PAR1", case_bytes.index(b"data/distance.parquet")) + 10
    blob[at] ^= 0xFF
    assert code_of(bytes(blob)) in {"corrupt_member", "checksum_mismatch"}


@pytest.mark.parametrize("name", [
    "data/../evil.parquet", "../evil", "/etc/passwd", "C:/evil", "data\\evil", "data//x",
    "data/./x", "data/",
])
def test_unsafe_member_names(case_bytes: bytes, name: str) -> None:
    def change(parts: Parts) -> None:
        parts.members.append(Member(name, b"x"))

    assert code_of(edit(case_bytes, change)) == "unsafe_member"


def test_symlink_member(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.get("data/plants.parquet").external_attr = (stat.S_IFLNK | 0o777) << 16

    assert code_of(edit(case_bytes, change)) == "unsafe_member"


def test_duplicate_member(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.members.append(Member("data/plants.parquet", parts.get("data/plants.parquet").data))

    with pytest.warns(UserWarning, match="Duplicate name"):
        blob = edit(case_bytes, change)
    assert code_of(blob) == "duplicate_member"


def test_unlisted_member(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.members.append(Member("data/extra.parquet", b"x"))

    assert code_of(edit(case_bytes, change)) == "unexpected_member"


def test_missing_member(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.members = [m for m in parts.members if m.name != "data/trucks.parquet"]

    assert code_of(edit(case_bytes, change)) == "missing_member"


def test_missing_manifest(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.members = [m for m in parts.members if m.name != "manifest.json"]

    assert code_of(edit(case_bytes, change, reseal=False)) == "missing_member"


def test_unsupported_compression(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        parts.get("data/plants.parquet").compress = zipfile.ZIP_LZMA

    assert code_of(edit(case_bytes, change)) == "unsupported_member"


def test_case_that_inflates_past_the_limit(case_bytes: bytes) -> None:
    """A member that deflates 50 MB of zeros to a few KB: refused without inflating it."""
    def change(parts: Parts) -> None:
        bomb = b"\0" * (50 << 20)
        replace_member(parts, "plants", bomb, update_manifest=True)
        parts.get("data/plants.parquet").compress = zipfile.ZIP_DEFLATED

    blob = edit(case_bytes, change)
    assert len(blob) < 1 << 20
    assert code_of(blob, Limits(max_unpacked_bytes=8 << 20)) == "too_large"


def test_case_larger_than_the_limit(case_bytes: bytes) -> None:
    assert code_of(case_bytes, Limits(max_unpacked_bytes=len(case_bytes) // 4)) == "too_large"


def test_member_that_inflates_past_its_declared_size(case_bytes: bytes) -> None:
    """A zip whose headers understate a member's size: no more than the declared size is
    inflated, and the member is refused."""
    def change(parts: Parts) -> None:
        parts.get("data/plants.parquet").compress = zipfile.ZIP_DEFLATED

    blob = understate_size(edit(case_bytes, change), "data/plants.parquet", 10)
    assert code_of(blob) == "corrupt_member"


def test_too_many_members(case_bytes: bytes) -> None:
    assert code_of(case_bytes, Limits(max_members=3)) == "too_large"


def test_manifest_over_its_own_limit(case_bytes: bytes) -> None:
    assert code_of(case_bytes, Limits(max_manifest_bytes=100)) == "too_large"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("app", None, "manifest.app is missing"),
    ("created", 5, "manifest.created is missing or has the wrong type"),
    ("identifiers", {}, "manifest.identifiers is missing"),
    ("format_version", 9, "format_version 9 is unknown"),
    ("metadata", [], "manifest.metadata is not an object"),
])
def test_manifest_with_a_wrong_field(
    case_bytes: bytes, field: str, value: Any, message: str
) -> None:
    def change(parts: Parts) -> None:
        parts.manifest[field] = value

    with pytest.raises(CaseError, match=message):
        read_case(edit(case_bytes, change))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "../x", r"identifiers\[0\]: invalid name"),
    ("kind", "variable", "kind 'variable' is not one of"),
    ("path", "data/other.parquet", r"identifiers\[0\].path is 'data/other.parquet'"),
    ("columns", ["x"], r"identifiers\[0\].columns"),
    ("sha256", "abc", "sha256 out of range"),
    ("rows", -1, "out of range"),
])
def test_manifest_entry_with_a_wrong_field(
    case_bytes: bytes, field: str, value: Any, message: str
) -> None:
    def change(parts: Parts) -> None:
        parts.manifest["identifiers"][0][field] = value

    with pytest.raises(CaseError, match=message) as caught:
        read_case(edit(case_bytes, change))
    assert caught.value.code == "bad_manifest"


def test_member_that_is_not_parquet(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        replace_member(parts, "capacity", b"not parquet at all", update_manifest=True)

    assert code_of(edit(case_bytes, change)) == "corrupt_member"


@pytest.mark.parametrize("table", [
    pa.table({"plants": ["seattle"], "amount": [1.0]}),
    pa.table({"plants": ["seattle"], "value": ["lots"]}),
    pa.table({"plants": ["seattle", "seattle"], "value": [1.0, 2.0]}),
    pa.table({"plants": ["seattle", None], "value": [1.0, 2.0]}),
    pa.table({"plants": ["seattle"], "value": [float("nan")]}),
])
def test_table_that_breaks_the_format(case_bytes: bytes, table: pa.Table) -> None:
    def change(parts: Parts) -> None:
        replace_member(parts, "capacity", parquet(table), update_manifest=True)
        entry(parts, "capacity")["rows"] = table.num_rows

    assert code_of(edit(case_bytes, change)) == "bad_table"


def test_row_count_differs_from_manifest(case_bytes: bytes) -> None:
    def change(parts: Parts) -> None:
        entry(parts, "capacity")["rows"] = 7

    assert code_of(edit(case_bytes, change)) == "bad_table"


def test_foreign_but_compatible_types_are_accepted(case_bytes: bytes) -> None:
    """A tool writing int32 values and large strings still makes a readable case."""
    table = pa.table({
        "plants": pa.array(["seattle"], pa.large_string()),
        "value": pa.array([7], pa.int32()),
    })

    def change(parts: Parts) -> None:
        replace_member(parts, "capacity", parquet(table), update_manifest=True)
        entry(parts, "capacity")["rows"] = 1

    assert read_case(edit(case_bytes, change)).values("capacity") == {"seattle": 7.0}


def test_error_codes_are_machine_readable(case_bytes: bytes) -> None:
    with pytest.raises(CaseError) as caught:
        read_case(case_bytes[:100])
    error = caught.value
    assert error.to_dict() == {"code": "truncated", "message": error.message}
    assert error.status == 400
    with pytest.raises(CaseError) as caught:
        read_case(case_bytes, limits=Limits(max_members=1))
    assert caught.value.status == 413
