"""What changed between two cases of the same app, identifier by identifier, element by element."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from modelport.case.errors import CaseError
from modelport.case.reader import Case, read_case
from modelport.case.safety import Source

Status = Literal["added", "removed", "changed", "schema_changed"]


@dataclass(frozen=True)
class ElementChange:
    """One element whose value differs. ``None`` means "no value"; for a set, ``old`` and
    ``new`` say whether the element is in the set."""

    element: tuple[str, ...]
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"element": list(self.element), "old": self.old, "new": self.new}


@dataclass(frozen=True)
class IdentifierDiff:
    """How one identifier differs; ``changes`` is empty for ``schema_changed``."""

    name: str
    status: Status
    changes: list[ElementChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.name,
            "status": self.status,
            "changes": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True)
class CaseDiff:
    """The differences between case ``a`` (old) and case ``b`` (new) of one app."""

    app_name: str
    old_version: str
    new_version: str
    identifiers: list[IdentifierDiff]

    @property
    def changed(self) -> list[str]:
        """Names of the identifiers that differ."""
        return [d.name for d in self.identifiers]

    def get(self, name: str) -> IdentifierDiff | None:
        """The diff of one identifier, or None if it did not change."""
        return next((d for d in self.identifiers if d.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (what the cases API answers)."""
        return {
            "app": self.app_name,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "identifiers": [d.to_dict() for d in self.identifiers],
        }


def _equal(old: Any, new: Any, rel_tol: float) -> bool:
    if isinstance(old, float) and isinstance(new, float):
        return math.isclose(old, new, rel_tol=rel_tol, abs_tol=0.0)
    return bool(old == new)


def _as_elements(case: Case, name: str) -> dict[tuple[str, ...], Any]:
    info, values = case.info(name), case.values(name)
    if info.kind == "set":
        return {(element,): True for element in values}
    if not info.domain:
        return {} if values is None else {(): values}
    return {key if isinstance(key, tuple) else (key,): v for key, v in values.items()}


def _element_changes(
    old: dict[tuple[str, ...], Any], new: dict[tuple[str, ...], Any], is_set: bool,
    rel_tol: float,
) -> list[ElementChange]:
    missing = False if is_set else None
    changes = [
        ElementChange(key, value, new.get(key, missing))
        for key, value in old.items()
        if key not in new or not _equal(value, new[key], rel_tol)
    ]
    changes += [ElementChange(key, missing, v) for key, v in new.items() if key not in old]
    return changes


def _diff_one(a: Case, b: Case, name: str, rel_tol: float) -> IdentifierDiff | None:
    if name not in b:
        is_set = a.info(name).kind == "set"
        return IdentifierDiff(name, "removed", _element_changes(_as_elements(a, name), {},
                                                                 is_set, rel_tol))
    if name not in a:
        is_set = b.info(name).kind == "set"
        return IdentifierDiff(name, "added", _element_changes({}, _as_elements(b, name),
                                                               is_set, rel_tol))
    old, new = a.info(name), b.info(name)
    if (old.kind, old.domain, old.type) != (new.kind, new.domain, new.type):
        return IdentifierDiff(name, "schema_changed")
    changes = _element_changes(_as_elements(a, name), _as_elements(b, name),
                               old.kind == "set", rel_tol)
    return IdentifierDiff(name, "changed", changes) if changes else None


def diff_cases(a: Case | Source, b: Case | Source, *, rel_tol: float = 0.0) -> CaseDiff:
    """Compare two cases of the same app (``a`` old, ``b`` new), read first if needed.

    Reals are equal within ``rel_tol`` (exact by default). Raises CaseError(wrong_app) for
    cases of different apps, and any reading error.
    """
    a = a if isinstance(a, Case) else read_case(a)
    b = b if isinstance(b, Case) else read_case(b)
    if a.app_name != b.app_name:
        raise CaseError("wrong_app", f"cannot compare a case of {a.app_name!r} "
                                     f"with one of {b.app_name!r}")
    names = a.names + [n for n in b.names if n not in a]
    diffs = [d for n in names if (d := _diff_one(a, b, n, rel_tol)) is not None]
    return CaseDiff(a.app_name, a.app_version, b.app_version, diffs)
