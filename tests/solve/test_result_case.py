"""The result case a job's app wrote is read by the worker in bounded memory: a Parquet bomb is
refused as a bad result before its tables are decoded."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from modelport.case import write_case
from solve_svc.execution import lineage_of
from solve_svc.files import BadResult
from tests.case.conftest import IDENTIFIERS, sample_data
from tests.case.craft import capacity_bomb


def _case(metadata: dict[str, object]) -> bytes:
    out = io.BytesIO()
    write_case(out, "transport", "1.0.0", sample_data(), identifiers=IDENTIFIERS,
               metadata=metadata)
    return out.getvalue()


def test_lineage_of_a_good_result(tmp_path: Path) -> None:
    path = tmp_path / "output.mpcase"
    path.write_bytes(_case({"lineage": {"procedure": "solve"}}))
    assert lineage_of(path) == {"procedure": "solve"}


def test_result_case_that_decodes_to_gigabytes_is_a_bad_result(tmp_path: Path) -> None:
    path = tmp_path / "output.mpcase"
    path.write_bytes(capacity_bomb(_case({"lineage": {"procedure": "solve"}})))
    with pytest.raises(BadResult, match="the result case is refused: too_large: "
                                         "data/capacity.parquet: its footer declares") as caught:
        lineage_of(path)
    assert caught.value.code == "bad_result"
