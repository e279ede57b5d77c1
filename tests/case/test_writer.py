"""The writer refuses values that do not fit their description, before writing anything."""

from __future__ import annotations

import io
from typing import Any

import pytest

from modelport.case import CaseError, IdentifierInfo, write_case

REAL = IdentifierInfo("w", "parameter", ("items",), "real")


@pytest.mark.parametrize(("info", "values", "message"), [
    (REAL, {"a": "heavy"}, "w:"),
    (REAL, {"a": float("inf")}, "NaN and infinite"),
    (REAL, [1, 2], "expected a mapping"),
    (REAL, {("a", "b"): 1.0}, "expected 1 element"),
    (IdentifierInfo("s", "set"), "abc", "a set must be a list"),
    (IdentifierInfo("s", "set", (), "string"), ["a", "a"], "duplicate elements"),
    (IdentifierInfo("s", "set", (), "string"), ["a", ""], "empty element names"),
    (IdentifierInfo("b", "parameter", (), "binary"), 2, "binary values must be 0 or 1"),
    (IdentifierInfo("value", "parameter"), 1.0, "reserved name"),
    (IdentifierInfo("x/y", "parameter"), 1.0, "invalid name"),
    (IdentifierInfo("p", "variable"), 1.0, "kind 'variable'"),  # type: ignore[arg-type]
    (IdentifierInfo("p", "parameter", (), "float"), 1.0, "type 'float'"),
    (IdentifierInfo("p", "parameter", ("bad set",)), {"a": 1.0}, "invalid set name"),
    (IdentifierInfo("p", "parameter", ("value",)), {"a": 1.0}, "invalid set name"),
    (IdentifierInfo("p", "parameter", ("a_2", "a", "a")), {}, "duplicate column names"),
])
def test_bad_values_are_refused(info: IdentifierInfo, values: Any, message: str) -> None:
    out = io.BytesIO()
    with pytest.raises(CaseError, match=message) as caught:
        write_case(out, "demo", "1", {info.name: values}, identifiers=[info])
    assert caught.value.code == "bad_data"
    assert out.getvalue() == b""


def test_data_without_a_description_is_refused() -> None:
    with pytest.raises(CaseError) as caught:
        write_case(io.BytesIO(), "demo", "1", {"w": {"a": 1.0}, "z": 1}, identifiers=[REAL])
    assert caught.value.code == "unknown_identifier"


def test_identifiers_without_data_are_left_out() -> None:
    from modelport.case import read_case

    out = io.BytesIO()
    write_case(out, "demo", "1", {}, identifiers=[REAL])
    assert read_case(out.getvalue()).names == []
