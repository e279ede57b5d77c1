"""Normalised data to and from plain JSON (tuple keys become rows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def to_jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised data in a form ``json.dumps`` accepts and ``App.validate`` reads back.

    Identifiers over several sets become rows ``[[e1, e2, ..., value], ...]``; sets,
    scalars and one-set identifiers keep their form.
    """
    return {name: _jsonable(values) for name, values in data.items()}


def _jsonable(values: Any) -> Any:
    if isinstance(values, Mapping) and any(isinstance(k, tuple) for k in values):
        return [[*key, value] for key, value in values.items()]
    if isinstance(values, tuple):
        return list(values)
    return values
