"""Validation of data against an app's declarations, collecting every problem.

Accepted forms (what JSON and Python authors naturally write):

- a set: a list of distinct, non-empty strings;
- a scalar: the value itself (``None`` means no value);
- a parameter over one set: ``{"new-york": 325, ...}``;
- over two or more sets: ``{("seattle", "new-york"): 2.5}``, nested mappings
  ``{"seattle": {"new-york": 2.5}}``, or rows ``[["seattle", "new-york", 2.5], ...]``.

The normalised form keys one-set identifiers by the element string and the others by
tuples of element strings; ``None`` values are dropped (no value).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from modelport.appkit.declarations import DataDecl, SetDecl
from modelport.appkit.errors import DataError, Issue
from modelport.appkit.values import BadValue, coerce, show

Declaration = SetDecl | DataDecl
Key = tuple[str, ...]
MAX_ISSUES_PER_IDENTIFIER = 50


class _Collector:
    """Collects issues, at most MAX_ISSUES_PER_IDENTIFIER per identifier, then a count."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._counts: dict[str, int] = {}
        self.flagged: set[tuple[str, Key]] = set()

    def add(self, identifier: str, element: Key, problem: str, rule: str = "invalid") -> None:
        self.flagged.add((identifier, element))
        count = self._counts.get(identifier, 0) + 1
        self._counts[identifier] = count
        if count <= MAX_ISSUES_PER_IDENTIFIER:
            self.issues.append(Issue(identifier, element, problem, rule))

    def finish(self) -> list[Issue]:
        extra = [
            Issue(name, (), f"{count - MAX_ISSUES_PER_IDENTIFIER} more problem(s) not listed")
            for name, count in self._counts.items()
            if count > MAX_ISSUES_PER_IDENTIFIER
        ]
        return self.issues + extra


def check_set(decl: SetDecl, raw: Any, out: _Collector) -> list[str]:
    """Return the set's elements in order, reporting non-strings, empties and duplicates."""
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        out.add(decl.name, (), f"expected a list of element names, got {type(raw).__name__}",
                "shape")
        return []
    elements: list[str] = []
    seen: set[str] = set()
    for position, element in enumerate(raw):
        if not isinstance(element, str) or not element:
            out.add(decl.name, (), f"element #{position + 1} ({show(element)}) is not a name",
                    "name")
        elif element in seen:
            out.add(decl.name, (element,), "duplicate element", "duplicate")
        else:
            seen.add(element)
            elements.append(element)
    return elements


def _entries(decl: DataDecl, raw: Any, out: _Collector) -> Iterator[tuple[Key, Any]]:
    """Yield (element tuple, raw value) pairs of any accepted form of an indexed value."""
    if isinstance(raw, Mapping):
        yield from _mapping_entries(decl, raw, (), out)
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        yield from _row_entries(decl, raw, out)
    else:
        out.add(decl.name, (), f"expected a mapping of elements to values, got {show(raw)}",
                "shape")


def _mapping_entries(
    decl: DataDecl, raw: Mapping[Any, Any], prefix: Key, out: _Collector
) -> Iterator[tuple[Key, Any]]:
    arity = len(decl.domain)
    for key, value in raw.items():
        full = prefix + (tuple(key) if isinstance(key, tuple) else (key,))
        if len(full) < arity and isinstance(value, Mapping):
            yield from _mapping_entries(decl, value, full, out)
        elif len(full) == arity:
            yield full, value
        else:
            out.add(decl.name, full, f"expected {arity} index element(s), got {len(full)}",
                    "domain")


def _row_entries(decl: DataDecl, rows: Sequence[Any], out: _Collector) -> Iterator[tuple[Key, Any]]:
    arity = len(decl.domain)
    for number, row in enumerate(rows, start=1):
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != arity + 1:
            out.add(decl.name, (), f"row #{number} is not {arity} element(s) and a value", "shape")
            continue
        yield tuple(row[:arity]), row[arity]


def _check_key(
    decl: DataDecl, key: Key, sets: Mapping[str, frozenset[str]], out: _Collector
) -> bool:
    for element, set_name in zip(key, decl.domain, strict=True):
        if not isinstance(element, str):
            out.add(decl.name, key, f"element {show(element)} is not a string", "domain")
            return False
        if element not in sets.get(set_name, frozenset()):
            out.add(decl.name, key, f"{element!r} is not an element of set {set_name}", "domain")
            return False
    return True


def _coerce_at(decl: DataDecl, key: Key, value: Any, out: _Collector) -> tuple[bool, Any]:
    try:
        return True, coerce(decl, value)
    except BadValue as exc:
        out.add(decl.name, key, str(exc), exc.rule)
        return False, None


def check_indexed(
    decl: DataDecl, raw: Any, sets: Mapping[str, frozenset[str]], out: _Collector
) -> dict[Any, Any]:
    """Return the normalised values of an identifier over one or more sets."""
    values: dict[Any, Any] = {}
    for key, value in _entries(decl, raw, out):
        if value is None or not _check_key(decl, key, sets, out):
            continue
        ok, coerced = _coerce_at(decl, key, value, out)
        if ok:
            values[key[0] if len(key) == 1 else key] = coerced
    return values


def check_scalar(decl: DataDecl, raw: Any, out: _Collector) -> Any:
    """Return the coerced scalar value, else its default (possibly None)."""
    if raw is None:
        return None if decl.default is None else coerce(decl, decl.default)
    return _coerce_at(decl, (), raw, out)[1]


def _check_required(
    decl: DataDecl, value: Any, ordered: Mapping[str, list[str]], out: _Collector
) -> None:
    if not decl.required or decl.default is not None:
        return
    if decl.is_scalar:
        if value is None and (decl.name, ()) not in out.flagged:
            out.add(decl.name, (), "missing required value", "required")
        return
    for key in itertools.product(*(ordered.get(s, []) for s in decl.domain)):
        missing = (key[0] if len(key) == 1 else key) not in value
        if missing and (decl.name, key) not in out.flagged:
            out.add(decl.name, key, "missing required value", "required")


def validate(
    declarations: Mapping[str, Declaration],
    data: Mapping[str, Any],
    *,
    kinds: frozenset[str],
    sets: Mapping[str, list[str]] | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """Check ``data`` against ``declarations`` and return it normalised.

    ``kinds`` are the identifier kinds ("set", "parameter", "result") that ``data`` may hold;
    ``sets`` supplies set elements not in ``data`` (e.g. the inputs when checking results).
    Identifiers of an allowed kind that are absent get their empty value (sets, indexed) or
    None (scalars), unless ``partial``: then only identifiers in ``data`` are checked and
    returned. Raises DataError listing every problem, each naming identifier and element.
    """
    out = _Collector()
    _check_names(declarations, data, kinds, out)
    ordered = dict(sets or {})
    result: dict[str, Any] = {}
    wanted = [d for d in declarations.values() if d.kind in kinds]
    if partial:
        wanted = [d for d in wanted if d.name in data]
    for decl in wanted:
        if isinstance(decl, SetDecl):
            ordered[decl.name] = result[decl.name] = check_set(decl, data.get(decl.name, []), out)
    members = {name: frozenset(elements) for name, elements in ordered.items()}
    for decl in wanted:
        if isinstance(decl, DataDecl):
            result[decl.name] = _check_data(decl, data.get(decl.name), members, out)
            _check_required(decl, result[decl.name], ordered, out)
    issues = out.finish()
    if issues:
        raise DataError(issues)
    return result


def _check_data(
    decl: DataDecl, raw: Any, sets: Mapping[str, frozenset[str]], out: _Collector
) -> Any:
    if decl.is_scalar:
        return check_scalar(decl, raw, out)
    return check_indexed(decl, {} if raw is None else raw, sets, out)


def _check_names(
    declarations: Mapping[str, Declaration], data: Mapping[str, Any], kinds: frozenset[str],
    out: _Collector,
) -> None:
    for name in data:
        decl = declarations.get(name)
        if decl is None:
            out.add(str(name), (), "not a declared identifier", "not_declared")
        elif decl.kind not in kinds:
            out.add(name, (), f"a {decl.kind} cannot be given here", "read_only")
