"""Getting a case's data out: files per identifier (JSON, CSV, Parquet) and pandas frames."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow.parquet as pq

from modelport.case.reader import Case, read_case
from modelport.case.safety import Source

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["json", "csv", "parquet"]


def _case(source: Case | Source) -> Case:
    return source if isinstance(source, Case) else read_case(source)


def to_pandas(source: Case | Source) -> dict[str, pd.DataFrame]:
    """Every identifier of a case as a pandas DataFrame, by name.

    Columns: ``element`` for a set; the domain's set names and ``value`` otherwise.
    """
    case = _case(source)
    return {name: case.frame(name) for name in case.names}


def _write_json(case: Case, name: str, target: Path) -> None:
    table = case.table(name)
    document = {
        **case.info(name).describe(),
        "columns": table.column_names,
        "rows": [list(row.values()) for row in table.to_pylist()],
    }
    target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")


def _write_csv(case: Case, name: str, target: Path) -> None:
    table = case.table(name)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.column_names)
        for row in table.to_pylist():
            writer.writerow([_csv_cell(v) for v in row.values()])


def _csv_cell(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def _write_parquet(case: Case, name: str, target: Path) -> None:
    pq.write_table(case.table(name), target, compression="zstd")


WRITERS = {"json": _write_json, "csv": _write_csv, "parquet": _write_parquet}


def export(source: Case | Source, out_dir: str | Path, format: Format = "json") -> list[Path]:
    """Write every identifier of a case to ``out_dir/<name>.<format>`` plus ``manifest.json``.

    JSON files hold the identifier's description, ``columns`` and ``rows``; CSV files a
    header row of column names; Parquet files the table as in the case (DuckDB reads them
    directly). Returns the files written. Raises ValueError for an unknown format and
    CaseError for a bad case.
    """
    if format not in WRITERS:
        raise ValueError(f"format {format!r} is not one of {', '.join(WRITERS)}")
    case = _case(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.json"
    manifest.write_text(json.dumps(case.manifest.raw, indent=1) + "\n", "utf-8")
    written = [manifest]
    for name in case.names:
        target = out / f"{name}.{format}"
        WRITERS[format](case, name, target)
        written.append(target)
    return written
