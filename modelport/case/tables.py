"""Converting an identifier's values to and from its Arrow table.

Values use the app kit's normalised form: a set is a list of strings; a scalar is the value
(or None); an identifier over one set maps element -> value; over several sets it maps
tuples of elements -> value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from modelport.case.errors import CaseError
from modelport.case.schema import IdentifierInfo

ARROW_TYPES: dict[str, pa.DataType] = {
    "real": pa.float64(),
    "integer": pa.int64(),
    "binary": pa.int8(),
    "string": pa.string(),
}


def arrow_schema(info: IdentifierInfo) -> pa.Schema:
    """The table schema the format fixes for ``info`` (key columns are strings)."""
    columns = info.columns
    keys = [pa.field(name, pa.string(), nullable=False) for name in columns[:-1]]
    value_type = pa.string() if info.kind == "set" else ARROW_TYPES[info.type]
    return pa.schema([*keys, pa.field(columns[-1], value_type, nullable=False)])


def _rows(info: IdentifierInfo, values: Any) -> list[tuple[Any, ...]]:
    if info.kind == "set":
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise CaseError("bad_data", f"{info.name}: a set must be a list of strings")
        return [(element,) for element in values]
    if not info.domain:
        return [] if values is None else [(values,)]
    if not isinstance(values, Mapping):
        raise CaseError("bad_data", f"{info.name}: expected a mapping of elements to values")
    arity = len(info.domain)
    rows = []
    for key, value in values.items():
        key = key if isinstance(key, tuple) else (key,)
        if len(key) != arity:
            raise CaseError("bad_data", f"{info.name}[{key!r}]: expected {arity} element(s)")
        rows.append((*key, value))
    return rows


def to_table(info: IdentifierInfo, values: Any) -> pa.Table:
    """The identifier's table; raises CaseError(bad_data) for values that do not fit."""
    schema = arrow_schema(info)
    rows = _rows(info, values)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    try:
        arrays = [pa.array(list(col), type=f.type) for col, f in zip(columns, schema, strict=True)]
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        raise CaseError("bad_data", f"{info.name}: {exc}") from None
    return conform(info, pa.Table.from_arrays(arrays, schema=schema), error="bad_data")


def conform(info: IdentifierInfo, table: pa.Table, *, error: str = "bad_table") -> pa.Table:
    """``table`` cast to the format's schema for ``info``, after checking it.

    Column names must match exactly; types are cast safely (so a foreign tool's int32 or
    large_string is accepted). Raises CaseError(``error``) for other columns, a failed cast,
    nulls, non-finite reals, binaries other than 0/1, duplicate elements or a scalar with
    more than one row.
    """
    expected = arrow_schema(info)
    if table.column_names != expected.names:
        raise CaseError(error, f"{info.name}: columns {table.column_names}, "
                               f"expected {expected.names}")
    if any(column.null_count for column in table.columns):
        raise CaseError(error, f"{info.name}: null values are not allowed")
    try:
        table = pa.Table.from_arrays(
            [col.cast(f.type) for col, f in zip(table.columns, expected, strict=True)],
            schema=expected,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise CaseError(error, f"{info.name}: {exc}") from None
    _check_rows(info, table, error)
    return table


def _check_rows(info: IdentifierInfo, table: pa.Table, error: str) -> None:
    values = table.column(table.num_columns - 1).to_pylist()
    if info.kind != "set" and info.type == "real" and not all(map(math.isfinite, values)):
        raise CaseError(error, f"{info.name}: NaN and infinite values are not allowed")
    if info.kind != "set" and info.type == "binary" and not set(values) <= {0, 1}:
        raise CaseError(error, f"{info.name}: binary values must be 0 or 1")
    if not info.domain and info.kind != "set":
        if table.num_rows > 1:
            raise CaseError(error, f"{info.name}: a scalar has at most one row")
        return
    names = info.columns if info.kind == "set" else info.columns[:-1]
    keys = list(zip(*(table.column(n).to_pylist() for n in names), strict=True))
    if len(set(keys)) != len(keys):
        raise CaseError(error, f"{info.name}: duplicate elements")
    if any("" in key for key in keys):
        raise CaseError(error, f"{info.name}: empty element names are not allowed")


def to_values(info: IdentifierInfo, table: pa.Table) -> Any:
    """The identifier's values in the normalised form from its (checked) table."""
    data = table.to_pydict()
    if info.kind == "set":
        return list(data["element"])
    values = data["value"]
    if not info.domain:
        return values[0] if values else None
    keys = [data[name] for name in info.columns[:-1]]
    if len(keys) == 1:
        return dict(zip(keys[0], values, strict=True))
    return dict(zip(zip(*keys, strict=True), values, strict=True))
