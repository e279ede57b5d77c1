"""``modelport case diff OLD NEW``: two case files compared offline, as the portal compares them.

The same two files are uploaded to a real portal and diffed through its API; the command's
``--json`` must print exactly what the API answers, and its text must show every change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelport.case import diff_cases, write_case
from tests.cli.helpers import cli, run_cli
from tests.portal.uploads import call, publish_transport, upload
from tests.support.stack import Stack

OLD: dict[str, Any] = {
    "plants": ["seattle", "san-diego"],
    "capacity": {"seattle": 350.0, "san-diego": 600.0},
    "freight": 90.0,
    "note": "base",
}
NEW: dict[str, Any] = {
    "plants": ["seattle", "san-diego", "portland"],
    "capacity": {"seattle": 400.0, "san-diego": 600.0, "portland": 120.0},
    "note": 7.5,
    "total_cost": 153.675,
}
EXPECTED_TEXT = """\
plants: changed
  portland: out -> in
capacity: changed
  seattle: 350.0 -> 400.0
  portland: - -> 120.0
freight: removed
  90.0 -> -
note: schema changed
total_cost: added
  - -> 153.675
"""


def write_pair(folder: Path) -> tuple[Path, Path]:
    old, new = folder / "old.mpcase", folder / "new.mpcase"
    write_case(old, "transport", "1.0.0", OLD)
    write_case(new, "transport", "1.0.1", NEW)
    return old, new


def test_text_lists_every_change(tmp_path: Path, config_dir: Path) -> None:
    write_pair(tmp_path)
    result = run_cli("case", "diff", "old.mpcase", "new.mpcase")
    assert result.exit_code == 0, result.output
    assert result.stdout == EXPECTED_TEXT
    assert "transport 1.0.0 -> 1.0.1: 5 identifiers differ" in result.stderr


def test_json_is_the_library_diff(tmp_path: Path, config_dir: Path) -> None:
    old, new = write_pair(tmp_path)
    result = run_cli("case", "diff", "old.mpcase", "new.mpcase", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(diff_cases(old, new).to_dict()))


def test_same_case_has_no_differences(tmp_path: Path, config_dir: Path) -> None:
    old, _ = write_pair(tmp_path)
    result = run_cli("case", "diff", str(old), str(old))
    assert (result.exit_code, result.stdout) == (0, "no differences\n")


async def test_json_equals_the_portal_diff_of_the_same_files(
    stack: Stack, tmp_path: Path,
) -> None:
    old, new = write_pair(tmp_path)
    await publish_transport(stack)
    ids = []
    for path in (old, new):
        status, body = await upload(stack, "/api/v1/cases", path.read_bytes(),
                                    params={"app": "transport", "name": path.stem})
        assert status == 201, body
        ids.append(body["id"])
    status, api_diff = await call(stack, "GET", f"/api/v1/cases/{ids[0]}/diff/{ids[1]}")
    assert status == 200, api_diff
    result = await cli("case", "diff", str(old), str(new), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == api_diff
    assert [i["identifier"] for i in api_diff["identifiers"]] == [
        "plants", "capacity", "freight", "note", "total_cost"]


# --- bad input: a clear one-line error and the documented exit status -------------------


def test_missing_file_is_usage_error(tmp_path: Path, config_dir: Path) -> None:
    write_pair(tmp_path)
    result = run_cli("case", "diff", "old.mpcase", "gone.mpcase")
    assert result.exit_code == 2
    assert "'gone.mpcase' does not exist" in result.stderr
    assert result.stdout == ""


def test_not_a_case_names_the_file(tmp_path: Path, config_dir: Path) -> None:
    write_pair(tmp_path)
    (tmp_path / "notes.mpcase").write_text("these are notes, not a case")
    result = run_cli("case", "diff", "old.mpcase", "notes.mpcase")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: notes.mpcase: ")
    assert result.stderr.rstrip().endswith("(not_a_case)")
    assert result.stdout == ""


def test_cases_of_different_apps_are_refused(tmp_path: Path, config_dir: Path) -> None:
    old, _ = write_pair(tmp_path)
    write_case(tmp_path / "other.mpcase", "facility-location", "1.0.0", {"n": 3.0})
    result = run_cli("case", "diff", "old.mpcase", "other.mpcase")
    assert result.exit_code == 1
    assert result.stderr == ("error: cannot compare a case of 'transport' with one of "
                             "'facility-location' (wrong_app)\n")
    assert result.stdout == ""
