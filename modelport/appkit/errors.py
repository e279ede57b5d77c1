"""Errors raised by the app kit, each with a machine ``code`` and a message for people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class AppKitError(Exception):
    """Base of every app-kit failure. ``code`` is stable; ``message`` is for people."""

    code = "appkit_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form: ``{"code", "message"}``."""
        return {"code": self.code, "message": self.message}


class DeclarationError(AppKitError):
    """An app declares something inconsistent (bad name, unknown set, duplicate, ...)."""

    code = "bad_declaration"


class UnknownProcedure(AppKitError):
    """A procedure name that the app does not declare."""

    code = "unknown_procedure"


RULES = (
    "not_declared",  # no identifier of that name
    "read_only",     # an identifier of a kind that cannot be given here (a result as input)
    "shape",         # not the accepted form (a list for a set, a mapping or rows, ...)
    "domain",        # an element that is not in its set, or the wrong number of elements
    "name",          # a set element that is not a non-empty string
    "duplicate",     # a set element given twice
    "type",          # a value not of the declared type (or not finite)
    "lower_bound",
    "upper_bound",
    "required",      # a required value is missing
    "invalid",       # anything else
)


@dataclass(frozen=True)
class Issue:
    """One problem found in data: where (identifier, element) and what.

    ``element`` is the tuple of set elements that locates the value, ``()`` for a scalar
    or for a problem with the identifier as a whole. ``rule`` names the rule broken, one of
    RULES (e.g. ``lower_bound``), for programs; ``problem`` says it for people.
    """

    identifier: str
    element: tuple[str, ...]
    problem: str
    rule: str = "invalid"

    @property
    def location(self) -> str:
        """``demand['new-york']``, ``distance['seattle','chicago']`` or just ``freight``."""
        if not self.element:
            return self.identifier
        inner = ",".join(repr(e) for e in self.element)
        return f"{self.identifier}[{inner}]"

    def __str__(self) -> str:
        return f"{self.location}: {self.problem}"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form with the identifier, element list and message."""
        return {"identifier": self.identifier, "element": list(self.element),
                "rule": self.rule, "message": str(self)}


class DataError(AppKitError):
    """Data does not match the app's declarations; ``issues`` lists every problem found."""

    code = "invalid_data"

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in the data:\n{lines}")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form with every issue."""
        return {
            "code": self.code,
            "message": self.message,
            "issues": [issue.to_dict() for issue in self.issues],
        }
