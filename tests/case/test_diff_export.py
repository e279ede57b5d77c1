"""Diff of two cases, and export of a case to JSON, CSV and Parquet files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from modelport.case import CaseError, diff_cases, export, read_case, write_case
from tests.case.conftest import IDENTIFIERS


def written(data: dict[str, Any], app: str = "transport", version: str = "1.0.0") -> bytes:
    out = io.BytesIO()
    names = {i.name for i in IDENTIFIERS}
    write_case(out, app, version, {k: v for k, v in data.items() if k in names},
               identifiers=IDENTIFIERS)
    return out.getvalue()


def test_identical_cases_have_no_diff(case_bytes: bytes) -> None:
    assert diff_cases(case_bytes, read_case(case_bytes)).identifiers == []


def test_diff_names_identifiers_and_elements_with_old_and_new(data: dict[str, Any]) -> None:
    new = {**data}
    new["markets"] = ["new-york", "chicago", "boston"]
    new["capacity"] = {"seattle": 400.0, "san-diego": 600.0}
    new["distance"] = {k: v for k, v in data["distance"].items() if k[1] != "topeka"}
    new["distance"]["seattle", "boston"] = 3.0
    new["note"] = "checked"
    del new["total_cost"]
    diff = diff_cases(written(data), written(new, version="1.1.0"))
    assert diff.changed == ["markets", "capacity", "distance", "note", "total_cost"]
    assert (diff.old_version, diff.new_version) == ("1.0.0", "1.1.0")
    markets = diff.get("markets")
    assert markets is not None and markets.status == "changed"
    assert [(c.element, c.old, c.new) for c in markets.changes] == [
        (("topeka",), True, False), (("boston",), False, True),
    ]
    capacity = diff.get("capacity")
    assert capacity is not None
    assert [c.to_dict() for c in capacity.changes] == [
        {"element": ["seattle"], "old": 350.0, "new": 400.0},
    ]
    distance = diff.get("distance")
    assert distance is not None
    assert {(c.element, c.old, c.new) for c in distance.changes} == {
        (("seattle", "topeka"), 1.8, None),
        (("san-diego", "topeka"), 1.4, None),
        (("seattle", "boston"), None, 3.0),
    }
    note = diff.get("note")
    assert note is not None and [(c.element, c.old, c.new) for c in note.changes] == [
        ((), None, "checked"),
    ]
    removed = diff.get("total_cost")
    assert removed is not None and removed.status == "removed"
    assert json.loads(json.dumps(diff.to_dict()))["identifiers"][0]["identifier"] == "markets"


def test_diff_tolerance_and_added_identifier(data: dict[str, Any]) -> None:
    old = {k: v for k, v in data.items() if k != "total_cost"}
    new = {**data, "freight": 90.0 * (1 + 1e-12)}
    diff = diff_cases(written(old), written(new), rel_tol=1e-9)
    assert diff.changed == ["total_cost"]
    added = diff.get("total_cost")
    assert added is not None and added.status == "added"
    assert [(c.element, c.old, c.new) for c in added.changes] == [((), None, 153.675)]
    assert diff_cases(written(old), written(new)).changed == ["freight", "total_cost"]


def test_diff_of_different_apps_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(CaseError) as caught:
        diff_cases(written(data), written(data, app="other"))
    assert caught.value.code == "wrong_app"


def test_diff_reports_schema_changes() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    write_case(a, "x", "1", {"w": {"a": 1.0}})
    write_case(b, "x", "1", {"w": {("a", "b"): 1.0}})
    diff = diff_cases(a.getvalue(), b.getvalue())
    assert [(d.name, d.status, d.changes) for d in diff.identifiers] == [
        ("w", "schema_changed", []),
    ]


def test_export_json(case_bytes: bytes, tmp_path: Path) -> None:
    files = export(case_bytes, tmp_path / "out", format="json")
    names = sorted(p.name for p in files)
    assert "manifest.json" in names and "distance.json" in names and len(names) == 11
    distance = json.loads((tmp_path / "out" / "distance.json").read_text())
    assert distance["domain"] == ["plants", "markets"]
    assert distance["unit"] == "thousand miles"
    assert distance["columns"] == ["plants", "markets", "value"]
    assert ["seattle", "new-york", 2.5] in distance["rows"]
    label = json.loads((tmp_path / "out" / "label.json").read_text(encoding="utf-8"))
    assert ["new-york", "NY — big apple"] in label["rows"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["app"] == {"name": "transport", "version": "1.0.0"}


def test_export_csv(case_bytes: bytes, tmp_path: Path) -> None:
    export(case_bytes, tmp_path, format="csv")
    with (tmp_path / "distance.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["plants", "markets", "value"]
    assert ["san-diego", "topeka", "1.4"] in rows
    with (tmp_path / "plants.csv").open(newline="") as handle:
        assert list(csv.reader(handle)) == [["element"], ["seattle"], ["san-diego"]]
    with (tmp_path / "note.csv").open(newline="") as handle:
        assert list(csv.reader(handle)) == [["value"]]


def test_export_unknown_format(case_bytes: bytes, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format 'xml'"):
        export(case_bytes, tmp_path, format="xml")  # type: ignore[arg-type]
