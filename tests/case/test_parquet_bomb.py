"""Parquet tables that decode to gigabytes: refused from their footer (or, for strings, from
dictionary and indices) before the data is decoded, in bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelport.case import CaseError, Limits, read_case, write_case
from tests.case.conftest import IDENTIFIERS, sample_data
from tests.case.craft import (
    BOMB_GROUP_ROWS,
    BOMB_GROUPS,
    capacity_bomb,
    capacity_string_bomb,
    one_string_many_times,
    repeated_row_groups,
    with_table,
)

MiB = 1 << 20
# Run in a fresh interpreter: warm up on a valid case, reset the peak RSS (VmHWM) to the
# current RSS, read the hostile case, report the refusal and how far the peak grew.
MEASURE = """
import json, sys
from modelport.case import CaseError, read_case

def status_kb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))

good, hostile = (open(path, "rb").read() for path in sys.argv[1:3])
read_case(good)
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
before = status_kb("VmRSS:")
try:
    read_case(hostile)
    print(json.dumps({"code": None}))
except CaseError as exc:
    print(json.dumps({"code": exc.code, "message": exc.message,
                      "growth_kb": status_kb("VmHWM:") - before}))
"""


def refusal_in_fresh_process(tmp_path: Path, good: bytes, hostile: bytes) -> dict[str, Any]:
    (tmp_path / "good.mpcase").write_bytes(good)
    (tmp_path / "hostile.mpcase").write_bytes(hostile)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path / "good.mpcase"),
         str(tmp_path / "hostile.mpcase")],
        capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def case_bytes_module() -> bytes:
    out = io.BytesIO()
    write_case(out, "transport", "1.0.0", sample_data(), identifiers=IDENTIFIERS)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb(case_bytes_module: bytes) -> bytes:
    return capacity_bomb(case_bytes_module)


def test_row_group_bomb_is_small_and_really_decodes_to_gigabytes(bomb: bytes) -> None:
    """The crafted file is genuine: its footer's 256 row groups all point at real pages."""
    assert len(bomb) < 2 * MiB
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        raw = archive.read("data/capacity.parquet")
    parquet = pq.ParquetFile(pa.BufferReader(raw))
    assert parquet.metadata.num_rows == BOMB_GROUP_ROWS * BOMB_GROUPS
    last = parquet.read_row_group(BOMB_GROUPS - 1)
    assert last.num_rows == BOMB_GROUP_ROWS and last.column("value")[0].as_py() == 0.0
    decoded_value_bytes = 8 * parquet.metadata.num_rows
    assert decoded_value_bytes >= 2 << 30  # values alone; plus offsets and strings: ~5 GB


def test_row_group_bomb_refused_from_the_footer_in_bounded_memory(
    tmp_path: Path, case_bytes_module: bytes, bomb: bytes
) -> None:
    got = refusal_in_fresh_process(tmp_path, case_bytes_module, bomb)
    assert got["code"] == "too_large", got
    assert got["message"].startswith(
        f"data/capacity.parquet: its footer declares {BOMB_GROUP_ROWS * BOMB_GROUPS} rows "
        "that would decode to ")
    assert "column 'value'" in got["message"] and "of the case's 1073741824" in got["message"]
    assert got["growth_kb"] < 100 * 1024, got


def test_string_bomb_refused_before_the_strings_are_repeated(
    tmp_path: Path, case_bytes_module: bytes
) -> None:
    hostile = capacity_string_bomb(case_bytes_module)
    assert len(hostile) < 64 * 1024
    got = refusal_in_fresh_process(tmp_path, case_bytes_module, hostile)
    assert got["code"] == "too_large", got
    assert got["message"].startswith(
        f"data/capacity.parquet: column 'plants' holds {4096 * MiB} bytes of strings"), got
    assert got["growth_kb"] < 100 * 1024, got


def test_decoding_budget_covers_the_whole_case(case_bytes: bytes) -> None:
    """Each table fits a small budget but the case's tables together do not."""
    read_case(case_bytes, limits=Limits(max_decoded_bytes=64 * 1024))
    with pytest.raises(CaseError) as caught:
        read_case(case_bytes, limits=Limits(max_decoded_bytes=1024))
    assert caught.value.code == "too_large" and caught.value.status == 413
    assert "decodable bytes are left" in caught.value.message


def test_a_modest_repetition_within_the_budget_is_read(case_bytes: bytes) -> None:
    """Repeated row groups are not refused as such: only what they decode to counts."""
    table = pa.table({"plants": ["seattle"], "value": [350.0]})
    blob = with_table(case_bytes, "capacity", repeated_row_groups(table, 2), 2)
    with pytest.raises(CaseError) as caught:  # read in full, then the duplicate key is seen
        read_case(blob)
    assert (caught.value.code, caught.value.message) == (
        "bad_table", "capacity: duplicate elements")


def test_footer_rows_other_than_the_manifest_are_refused_before_decoding(
    case_bytes: bytes
) -> None:
    table = pa.table({"plants": ["seattle", "san-diego"], "value": [1.0, 2.0]})
    blob = with_table(case_bytes, "capacity", repeated_row_groups(table, 3), 2)
    with pytest.raises(CaseError, match=r"capacity: 6 rows in data/capacity.parquet's footer, "
                                        "manifest says 2") as caught:
        read_case(blob)
    assert caught.value.code == "bad_table"


def test_nested_column_is_refused_from_the_footer(case_bytes: bytes) -> None:
    table = pa.table({"plants": ["seattle"], "value": [[1.0] * 1000]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    blob = with_table(case_bytes, "capacity", sink.getvalue().to_pybytes(), 1)
    with pytest.raises(CaseError) as caught:
        read_case(blob)
    assert caught.value.code == "bad_table"
    assert "columns ['plants', 'value.list.element']" in caught.value.message


def test_a_small_string_dictionary_reads_as_plain_strings(case_bytes: bytes) -> None:
    data = one_string_many_times("plants", "seattle", 1, pa.array(np.array([5.0])))
    case = read_case(with_table(case_bytes, "capacity", data, 1))
    assert case.table("capacity").schema.field("plants").type == pa.string()
    assert case.values("capacity") == {"seattle": 5.0}
