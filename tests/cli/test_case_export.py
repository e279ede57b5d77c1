"""``modelport case export``: a case file to JSON or CSV files, with no platform."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.cli.helpers import run_cli, transport_case


def test_export_json(tmp_path: Path, config_dir: Path) -> None:
    transport_case(tmp_path / "base.mpcase")
    result = run_cli("case", "export", "base.mpcase", "--format", "json")
    assert result.exit_code == 0, result.output
    out = tmp_path / "base-export"
    assert (tmp_path / result.stdout.strip()) == out
    names = sorted(p.name for p in out.iterdir())
    assert names == ["capacity.json", "demand.json", "distance.json", "freight.json",
                     "manifest.json", "markets.json", "plants.json"]
    distance = json.loads((out / "distance.json").read_text())
    assert distance["columns"] == ["plants", "markets", "value"]
    assert ["seattle", "new-york", 2.5] in distance["rows"]


def test_export_csv_to_a_folder(tmp_path: Path, config_dir: Path) -> None:
    transport_case(tmp_path / "base.mpcase")
    result = run_cli("case", "export", "base.mpcase", "--format", "csv", "-o", "tables")
    assert result.exit_code == 0, result.output
    with (tmp_path / "tables" / "capacity.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows == [["plants", "value"], ["seattle", "350.0"], ["san-diego", "600.0"]]
    assert (tmp_path / "tables" / "plants.csv").read_text().split() == [
        "element", "seattle", "san-diego"]


def test_not_a_case(tmp_path: Path, config_dir: Path) -> None:
    (tmp_path / "junk.mpcase").write_bytes(b"hello")
    result = run_cli("case", "export", "junk.mpcase")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: junk.mpcase:") and "not_a_case" in result.stderr
    missing = run_cli("case", "export", "nope.mpcase")
    assert missing.exit_code == 2
