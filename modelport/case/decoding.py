"""Decoding a case's Parquet tables in bounded memory.

A Parquet file's pages are compressed and encoded (dictionaries, run lengths), so a few
kilobytes can decode to gigabytes: a row group's pages repeated, a run of a billion zeros, a
one-megabyte string repeated by a dictionary. Before any page is read, the footer is judged:
its row and value counts, its leaf columns and the uncompressed size of every column chunk give
an estimate of what decoding allocates, which the case's decoding budget must cover. Strings
are then read as dictionaries, and their decoded length is computed from the dictionary and
its indices before any string is repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelport.case.errors import CaseError
from modelport.case.safety import Budget
from modelport.case.schema import IdentifierInfo

# bytes one value takes once decoded into Arrow, by Parquet physical type; a byte array also
# takes its Arrow offset (4 bytes) plus its bytes, which the footer cannot tell in advance
FIXED_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8,
               "BYTE_ARRAY": 4}


@dataclass(frozen=True)
class ChunkCost:
    """What one column chunk of one row group may allocate when decoded."""

    row_group: int
    column: str
    rows: int
    pages: int  # uncompressed bytes of its pages, as the footer declares
    values: int  # bytes of its decoded fixed-width values (or string offsets)

    @property
    def total(self) -> int:
        return self.pages + self.values


def read_table(raw: pa.Buffer, info: IdentifierInfo, path: str, rows: int,
               budget: Budget) -> pa.Table:
    """The member's table, its strings dictionary-encoded, after the footer's and the
    strings' decoded sizes were taken from ``budget``.

    Raises CaseError: corrupt_member (not Parquet), bad_table (columns, rows or nesting
    other than the manifest says, found in the footer), too_large (past the budget).
    """
    meta = _footer(raw, path)
    strings = check_footer(meta, info, path, rows, budget)
    try:
        parquet = pq.ParquetFile(pa.BufferReader(raw), metadata=meta, read_dictionary=strings)
        table = parquet.read(use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise CaseError("corrupt_member", f"{path} is not Parquet ({exc})") from None
    take_strings(table, path, budget)
    return table


def _footer(raw: pa.Buffer, path: str) -> pq.FileMetaData:
    try:
        return pq.read_metadata(pa.BufferReader(raw))
    except (pa.ArrowException, OSError) as exc:
        raise CaseError("corrupt_member", f"{path} is not Parquet ({exc})") from None


def check_footer(meta: pq.FileMetaData, info: IdentifierInfo, path: str, rows: int,
                 budget: Budget) -> list[str]:
    """Judge a Parquet footer before decoding; return its byte-array columns (to be read
    as dictionaries). Raises CaseError bad_table, corrupt_member or too_large."""
    _check_columns(meta, info, path)
    if meta.num_rows != rows:
        raise CaseError("bad_table", f"{info.name}: {meta.num_rows} rows in {path}'s footer, "
                                     f"manifest says {rows}")
    _take(chunk_costs(meta, path), rows, path, budget)
    schema = meta.schema
    return [schema.column(i).name for i in range(meta.num_columns)
            if schema.column(i).physical_type == "BYTE_ARRAY"]


def _check_columns(meta: pq.FileMetaData, info: IdentifierInfo, path: str) -> None:
    schema = meta.schema
    leaves = [schema.column(i) for i in range(meta.num_columns)]
    names = [leaf.path for leaf in leaves]
    if names != info.columns:
        raise CaseError("bad_table", f"{info.name}: {path} has columns {names}, "
                                     f"expected {info.columns}")
    nested = [leaf.path for leaf in leaves if leaf.max_repetition_level > 0]
    if nested:
        raise CaseError("bad_table", f"{info.name}: column {nested[0]!r} is repeated (a list)")


def chunk_costs(meta: pq.FileMetaData, path: str) -> list[ChunkCost]:
    """Every column chunk's cost from the footer; raises CaseError(corrupt_member) for
    counts that cannot be (negative sizes, more values than rows, rows not adding up)."""
    costs, total_rows = [], 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        total_rows += group.num_rows
        for c in range(group.num_columns):
            costs.append(_chunk_cost(meta, g, c, path))
    if total_rows != meta.num_rows:
        raise CaseError("corrupt_member", f"{path}: row groups hold {total_rows} rows, "
                                          f"the footer says {meta.num_rows}")
    return costs


def _chunk_cost(meta: pq.FileMetaData, g: int, c: int, path: str) -> ChunkCost:
    group, leaf = meta.row_group(g), meta.schema.column(c)
    chunk = group.column(c)
    where = f"{path}: row group {g}, column {leaf.path!r}"
    if group.num_rows < 0 or chunk.total_uncompressed_size < 0 or chunk.num_values < 0:
        raise CaseError("corrupt_member", f"{where}: negative size or count in the footer")
    if chunk.num_values > group.num_rows:
        raise CaseError("corrupt_member", f"{where}: {chunk.num_values} values in "
                                          f"{group.num_rows} rows")
    width = leaf.length if leaf.physical_type == "FIXED_LEN_BYTE_ARRAY" else (
        FIXED_WIDTH.get(leaf.physical_type, 8))
    return ChunkCost(g, leaf.path, group.num_rows, chunk.total_uncompressed_size,
                     group.num_rows * max(width, 1))


def _take(costs: list[ChunkCost], rows: int, path: str, budget: Budget) -> None:
    total = sum(cost.total for cost in costs)
    if total > budget.remaining:
        worst = max(costs, key=lambda cost: cost.total)
        raise CaseError(
            "too_large",
            f"{path}: its footer declares {rows} rows that would decode to {total} bytes or "
            f"more (largest column chunk: row group "
            f"{worst.row_group}, column {worst.column!r}, {worst.rows} rows, {worst.pages} bytes "
            f"of pages); {budget.remaining} of the case's {budget.limit} decodable bytes are left",
        )
    budget.take(total, path)


def take_strings(table: pa.Table, path: str, budget: Budget) -> None:
    """Take the decoded length of every dictionary-encoded column from ``budget``;
    raises CaseError(too_large) before the strings are repeated past it."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_dictionary(column.type):
            continue
        size = sum(_decoded_length(chunk) for chunk in column.chunks)
        if size > budget.remaining:
            raise CaseError("too_large", f"{path}: column {name!r} holds {size} bytes of "
                                         f"strings once decoded; {budget.remaining} of the "
                                         f"case's {budget.limit} decodable bytes are left")
        budget.take(size, path)


def _decoded_length(chunk: pa.DictionaryArray) -> int:
    lengths = pc.binary_length(chunk.dictionary)
    total = pc.sum(pc.take(lengths, chunk.indices)).as_py()
    return int(total or 0)
