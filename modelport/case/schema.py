"""The case format's constants, identifier descriptions and manifest (de)serialisation.

See docs/case-format.md for the specification this module implements.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from modelport.case.errors import CaseError

MAGIC = "modelport-case"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
HEADER_NAME = "modelport-case.json"
MANIFEST_NAME = "manifest.json"
DATA_DIR = "data/"
SUFFIX = ".mpcase"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
KINDS = ("set", "parameter", "result")
TYPES = ("real", "integer", "binary", "string")

Kind = Literal["set", "parameter", "result"]


@dataclass(frozen=True)
class IdentifierInfo:
    """What a case records about an identifier besides its values.

    ``domain`` lists the set names it is indexed over (``()`` for scalars and sets);
    ``type`` is "string" for sets (given or not).
    """

    name: str
    kind: Kind
    domain: tuple[str, ...] = ()
    type: str = ""
    unit: str | None = None

    def __post_init__(self) -> None:
        if not self.type:
            object.__setattr__(self, "type", "string" if self.kind == "set" else "real")

    @property
    def columns(self) -> list[str]:
        """Column names of its table: ``element`` for a set; else domain sets, then ``value``.

        A set repeated in the domain gets ``_2``, ``_3``, ... on later occurrences.
        """
        if self.kind == "set":
            return ["element"]
        seen: dict[str, int] = {}
        names = []
        for set_name in self.domain:
            seen[set_name] = seen.get(set_name, 0) + 1
            names.append(set_name if seen[set_name] == 1 else f"{set_name}_{seen[set_name]}")
        return [*names, "value"]

    @property
    def path(self) -> str:
        """The member holding its table."""
        return f"{DATA_DIR}{self.name}.parquet"

    def describe(self) -> dict[str, Any]:
        """The identifier's fields as they appear in the manifest (without member facts)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "domain": list(self.domain),
            "type": self.type,
            "unit": self.unit,
        }


@dataclass(frozen=True)
class Entry:
    """A manifest entry: the identifier plus its member's path, rows, size and sha256."""

    info: IdentifierInfo
    rows: int
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            **self.info.describe(),
            "columns": self.info.columns,
            "path": self.info.path,
            "rows": self.rows,
            "bytes": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json``."""

    format_version: int
    app_name: str
    app_version: str
    created: str
    entries: dict[str, Entry]
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self, generator: str) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "app": {"name": self.app_name, "version": self.app_version},
            "created": self.created,
            "generator": generator,
            "identifiers": [e.to_json() for e in self.entries.values()],
            "metadata": self.metadata,
        }


def check_info(info: IdentifierInfo) -> None:
    """Raise CaseError(bad_data) if an identifier description breaks the format's rules."""
    problem = _info_problem(info)
    if problem:
        raise CaseError("bad_data", f"identifier {info.name!r}: {problem}")


def _info_problem(info: IdentifierInfo) -> str | None:
    if not isinstance(info.name, str) or not NAME_RE.match(info.name):
        return "invalid name (a letter, then letters, digits or '_', at most 63)"
    if info.name.lower() in ("value", "element"):
        return "reserved name"
    if info.kind not in KINDS:
        return f"kind {info.kind!r} is not one of {', '.join(KINDS)}"
    if info.type not in TYPES:
        return f"type {info.type!r} is not one of {', '.join(TYPES)}"
    if info.kind == "set" and (info.domain or info.type != "string"):
        return "a set has no domain and type 'string'"
    bad = [s for s in info.domain if not isinstance(s, str) or not NAME_RE.match(s)
           or s.lower() in ("value", "element")]
    if bad:
        return f"invalid set name(s) in domain: {bad!r}"
    if len(set(info.columns)) != len(info.columns):
        return f"domain {list(info.domain)} gives duplicate column names {info.columns}"
    if info.unit is not None and not isinstance(info.unit, str):
        return "unit must be a string or null"
    return None


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise CaseError("bad_manifest", f"{where}.{key} is missing or has the wrong type")
    return value


def parse_entry(obj: Any, where: str) -> Entry:
    """One manifest identifier entry; raises CaseError(bad_manifest) naming the field."""
    if not isinstance(obj, Mapping):
        raise CaseError("bad_manifest", f"{where} is not an object")
    domain = _field(obj, "domain", list, where)
    unit = obj.get("unit")
    info = IdentifierInfo(
        _field(obj, "name", str, where), _field(obj, "kind", str, where), tuple(domain),
        _field(obj, "type", str, where), unit,
    )
    problem = _info_problem(info)
    if problem:
        raise CaseError("bad_manifest", f"{where}: {problem}")
    _expect(obj, "columns", info.columns, where)
    _expect(obj, "path", info.path, where)
    entry = Entry(info, _field(obj, "rows", int, where), _field(obj, "bytes", int, where),
                  _field(obj, "sha256", str, where))
    if entry.rows < 0 or entry.size < 0 or not SHA256_RE.match(entry.sha256):
        raise CaseError("bad_manifest", f"{where}: rows, bytes or sha256 out of range")
    return entry


def _expect(obj: Mapping[str, Any], key: str, wanted: Any, where: str) -> None:
    if obj.get(key) != wanted:
        raise CaseError("bad_manifest", f"{where}.{key} is {obj.get(key)!r}, expected {wanted!r}")


def parse_manifest(obj: Any) -> Manifest:
    """The manifest from its decoded JSON; raises CaseError naming the wrong field."""
    if not isinstance(obj, Mapping):
        raise CaseError("bad_manifest", "manifest is not a JSON object")
    version = _field(obj, "format_version", int, "manifest")
    if version not in SUPPORTED_VERSIONS:
        raise CaseError("unsupported_version", f"manifest format_version {version} is unknown")
    app = _field(obj, "app", dict, "manifest")
    items = _field(obj, "identifiers", list, "manifest")
    entries: dict[str, Entry] = {}
    for number, item in enumerate(items):
        entry = parse_entry(item, f"manifest.identifiers[{number}]")
        if entry.info.name in entries:
            raise CaseError("bad_manifest", f"identifier {entry.info.name} is listed twice")
        entries[entry.info.name] = entry
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise CaseError("bad_manifest", "manifest.metadata is not an object")
    return Manifest(
        format_version=version,
        app_name=_field(app, "name", str, "manifest.app"),
        app_version=_field(app, "version", str, "manifest.app"),
        created=_field(obj, "created", str, "manifest"),
        entries=entries,
        metadata=metadata,
        raw=dict(obj),
    )
