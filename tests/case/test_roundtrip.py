"""Writing and reading cases: equal data back, and readable with plain tools."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelport.case import FORMAT_VERSION, read_case, to_pandas, write_case
from tests.case.conftest import IDENTIFIERS


class OneWay(io.RawIOBase):
    """A stream that cannot seek (like a socket or an HTTP body)."""

    def __init__(self, inner: io.BytesIO) -> None:
        self.inner = inner

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self.inner.write(data)

    def readinto(self, buffer: Any) -> int:
        chunk = self.inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_round_trip_gives_equal_data(case_bytes: bytes, data: dict[str, Any]) -> None:
    case = read_case(case_bytes)
    assert case.data() == data
    assert (case.app_name, case.app_version) == ("transport", "1.0.0")
    assert case.metadata == {"procedure": "solve"}
    assert case.names == [i.name for i in IDENTIFIERS]
    assert case.info("distance") == IDENTIFIERS[3]
    assert case.created.endswith("Z")


def test_round_trip_through_a_file(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "t.mpcase"
    written = write_case(path, "transport", "1.0.0", data, identifiers=IDENTIFIERS)
    blob = path.read_bytes()
    assert written.size == len(blob)
    assert written.sha256 == hashlib.sha256(blob).hexdigest()
    assert read_case(path).data() == data
    assert read_case(str(path)).data() == data


def test_round_trip_through_unseekable_streams(data: dict[str, Any]) -> None:
    sink = io.BytesIO()
    write_case(OneWay(sink), "transport", "1.0.0", data, identifiers=IDENTIFIERS)  # type: ignore[arg-type]
    sink.seek(0)
    assert read_case(OneWay(sink)).data() == data  # type: ignore[arg-type]


def test_without_descriptions_identifiers_are_inferred() -> None:
    raw = {"items": ["a", "b"], "w": {"a": 1.5}, "n": {("a", "b"): 3}, "s": "hi", "k": 2}
    case = read_case(_write(raw))
    assert case.data() == raw
    assert case.info("items").kind == "set"
    assert case.info("n").domain == ("dim1", "dim2") and case.info("n").type == "integer"
    assert case.info("s").type == "string" and case.info("k").type == "integer"


def test_tables_and_frames(case_bytes: bytes) -> None:
    case = read_case(case_bytes)
    table = case.table("distance")
    assert table.column_names == ["plants", "markets", "value"]
    assert table.schema.field("value").type == pa.float64()
    assert case.table("route").column_names == ["markets", "markets_2", "value"]
    assert case.table("plants").column_names == ["element"]
    assert case.table("note").num_rows == 0
    frame = case.frame("capacity")
    assert list(frame.columns) == ["plants", "value"]
    assert frame.set_index("plants")["value"].to_dict() == {"seattle": 350.0, "san-diego": 600.0}
    frames = to_pandas(case_bytes)
    assert set(frames) == set(case.names)
    assert frames["freight"]["value"].tolist() == [90.0]


def test_readable_with_zipfile_json_and_pyarrow_only(case_bytes: bytes) -> None:
    """What docs/case-format.md promises a foreign tool: plain zip, JSON and Parquet."""
    with zipfile.ZipFile(io.BytesIO(case_bytes)) as archive:
        names = archive.namelist()
        assert names[0] == "modelport-case.json"
        header = json.loads(archive.read(names[0]))
        manifest_raw = archive.read("manifest.json")
        manifest = json.loads(manifest_raw)
        assert header["magic"] == "modelport-case"
        assert header["format_version"] == FORMAT_VERSION == manifest["format_version"]
        assert header["manifest_sha256"] == hashlib.sha256(manifest_raw).hexdigest()
        item = next(i for i in manifest["identifiers"] if i["name"] == "distance")
        raw = archive.read(item["path"])
    assert hashlib.sha256(raw).hexdigest() == item["sha256"] and len(raw) == item["bytes"]
    parquet = pq.ParquetFile(pa.BufferReader(raw))
    assert parquet.metadata.row_group(0).column(2).compression == "ZSTD"
    assert parquet.read().column_names == item["columns"]


def test_duckdb_reads_exported_parquet(case_bytes: bytes, tmp_path: Path) -> None:
    import duckdb  # a dev dependency (pyproject.toml)

    from modelport.case import export

    export(case_bytes, tmp_path, format="parquet")
    rows = duckdb.sql(
        f"select plants, sum(value) from read_parquet('{tmp_path / 'distance.parquet'}') "
        "group by plants order by plants"
    ).fetchall()
    assert rows == [("san-diego", pytest.approx(5.7)), ("seattle", pytest.approx(6.0))]


def _write(raw: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    write_case(out, "demo", "1", raw)
    return out.getvalue()
