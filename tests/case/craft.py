"""Helpers that take a valid case apart and put it back together, changed, for the
reader's bad-input tests."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Member:
    name: str
    data: bytes
    compress: int = zipfile.ZIP_STORED
    external_attr: int = 0o644 << 16


@dataclass
class Parts:
    """A case as members, plus its decoded header and manifest for editing."""

    members: list[Member]
    header: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)


def explode(blob: bytes) -> Parts:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        members = [Member(i.filename, archive.read(i), i.compress_type) for i in archive.infolist()]
    parts = Parts(members)
    parts.header = json.loads(parts.get("modelport-case.json").data)
    parts.manifest = json.loads(parts.get("manifest.json").data)
    return parts


def pack(parts: Parts, *, reseal: bool = True) -> bytes:
    """Zip the parts; with ``reseal`` the edited manifest and header are re-encoded and
    the header's manifest_sha256 recomputed (so only the intended flaw remains)."""
    if reseal:
        manifest = json.dumps(parts.manifest).encode()
        parts.get("manifest.json").data = manifest
        parts.header["manifest_sha256"] = hashlib.sha256(manifest).hexdigest()
        parts.get("modelport-case.json").data = json.dumps(parts.header).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member in parts.members:
            info = zipfile.ZipInfo(member.name)
            info.compress_type = member.compress
            info.external_attr = member.external_attr
            archive.writestr(info, member.data)
    return out.getvalue()


def edit(blob: bytes, change: Callable[[Parts], None], *, reseal: bool = True) -> bytes:
    parts = explode(blob)
    change(parts)
    return pack(parts, reseal=reseal)


def entry(parts: Parts, name: str) -> dict[str, Any]:
    return next(e for e in parts.manifest["identifiers"] if e["name"] == name)


def replace_member(parts: Parts, name: str, data: bytes, *, update_manifest: bool) -> None:
    """Swap an identifier's Parquet bytes, optionally fixing its size and sha256."""
    member = parts.get(f"data/{name}.parquet")
    member.data = data
    if update_manifest:
        item = entry(parts, name)
        item["bytes"] = len(data)
        item["sha256"] = hashlib.sha256(data).hexdigest()


def understate_size(blob: bytes, name: str, size: int) -> bytes:
    """Patch the uncompressed size of member ``name`` in its local and central headers."""
    out = bytearray(blob)
    encoded = name.encode()
    # (signature, offset of the name, offset of the uncompressed size) per APPNOTE 4.3.7/12
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        start = out.index(signature)
        while out[start + name_at : start + name_at + len(encoded)] != encoded:
            start = out.index(signature, start + 4)
        out[start + size_at : start + size_at + 4] = size.to_bytes(4, "little")
    return bytes(out)


def repeated_row_groups(table: Any, copies: int) -> bytes:
    """A real Parquet file whose footer lists ``table``'s one row group ``copies`` times, all
    pointing at the same pages: a few KB that decode to ``copies`` times the table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=table.num_rows)
    single = sink.getvalue().to_pybytes()
    meta = pq.read_metadata(pa.BufferReader(single))
    for _ in range(copies - 1):
        meta.append_row_groups(pq.read_metadata(pa.BufferReader(single)))
    out = pa.BufferOutputStream()
    meta.write_metadata_file(out)
    footer = out.getvalue().to_pybytes()[4:-8]  # between "PAR1" and length + "PAR1"
    old_footer = int.from_bytes(single[-8:-4], "little")
    pages = single[: len(single) - 8 - old_footer]
    return pages + footer + len(footer).to_bytes(4, "little") + b"PAR1"


def one_string_many_times(column: str, text: str, rows: int, value: Any = None) -> bytes:
    """A Parquet file whose ``column`` repeats ``text`` ``rows`` times through a one-entry
    dictionary (plus a zero ``value`` column unless None): tiny pages, huge strings."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype="int32")),
                                          pa.array([text]))
    columns = {column: keys} if value is None else {column: keys, "value": value}
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def with_table(blob: bytes, name: str, data: bytes, rows: int) -> bytes:
    """The case with identifier ``name``'s Parquet member swapped for ``data`` holding
    ``rows`` rows, the manifest resealed to match (so only the table is hostile)."""
    def change(parts: Parts) -> None:
        replace_member(parts, name, data, update_manifest=True)
        entry(parts, name)["rows"] = rows

    return edit(blob, change)


def key_column(blob: bytes, name: str) -> str:
    """The first column of identifier ``name``'s table (its first domain set)."""
    return str(entry(explode(blob), name)["columns"][0])


BOMB_GROUP_ROWS, BOMB_GROUPS = 1 << 20, 256  # 2**28 rows: about 5 GB once decoded


def capacity_bomb(blob: bytes) -> bytes:
    """The case with a ``capacity`` table (plants, value) whose footer repeats one row group
    of 2**20 rows 256 times: about 2 MB of file, 2**28 rows, ~5 GB of decoded Arrow data."""
    import numpy as np
    import pyarrow as pa

    keys = pa.DictionaryArray.from_arrays(pa.array(np.zeros(BOMB_GROUP_ROWS, dtype="int32")),
                                          pa.array(["seattle"]))
    table = pa.table({key_column(blob, "capacity"): keys,
                      "value": pa.array(np.zeros(BOMB_GROUP_ROWS))})
    return with_table(blob, "capacity", repeated_row_groups(table, BOMB_GROUPS),
                      BOMB_GROUP_ROWS * BOMB_GROUPS)


def capacity_string_bomb(blob: bytes) -> bytes:
    """The case with a ``capacity`` table of 4096 rows whose plant name is one 1 MiB string:
    a few KB of file and of pages, 4 GiB of strings once decoded."""
    import numpy as np
    import pyarrow as pa

    rows = 4096
    data = one_string_many_times(key_column(blob, "capacity"), "s" * (1 << 20), rows,
                                 pa.array(np.zeros(rows)))
    return with_table(blob, "capacity", data, rows)
