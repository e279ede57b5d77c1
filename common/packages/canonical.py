"""Canonical JSON: the one byte form of a JSON document that signatures and AADs cover.

The rule (a subset of RFC 8785, JCS): UTF-8, no whitespace, object keys sorted by code point,
no duplicate keys, strings escaped only where JSON requires (``"``, ``\\``, control characters
as ``\\b \\f \\n \\r \\t`` or lowercase ``\\u00xx``), integers only (no floats) within
±(2**53 - 1), plus ``true``, ``false``, ``null``, arrays and objects.
"""

from __future__ import annotations

import json
from typing import Any

from common.packages.errors import BadManifest

MAX_SAFE_INT = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """Return the canonical bytes of ``value``; raise ``ValueError`` for what JSON can't hold."""
    _check(value, "")
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _check(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise ValueError(f"{where or 'value'}: integer out of range")
    elif isinstance(value, str):
        value.encode("utf-8")  # lone surrogates raise UnicodeEncodeError (a ValueError)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where or 'value'}: object key {key!r} is not a string")
            _check(item, f"{where}.{key}" if where else key)
    else:
        raise ValueError(f"{where or 'value'}: {type(value).__name__} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_floats(text: str) -> Any:
    raise ValueError(f"number {text} is not an integer")


def load_canonical(data: bytes, source: str) -> dict[str, Any]:
    """Parse ``data`` as a JSON object that must be in canonical form.

    Raises :class:`BadManifest` (field ``(document)``) when the bytes are not UTF-8, not JSON,
    not an object, hold duplicate keys or floats, or are not byte-identical to their canonical
    form.
    """
    try:
        value = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_float=_no_floats
        )
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        if canonical_json(value) != data:
            raise ValueError("not in canonical form")
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadManifest(f"{source}: {exc}", field="(document)") from None
    return value
