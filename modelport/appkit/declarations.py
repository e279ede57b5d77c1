"""What an app declares: sets, parameters, results and procedures."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from modelport.appkit.errors import DeclarationError

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
RESERVED_NAMES = frozenset({"value", "element"})

DataKind = Literal["parameter", "result"]
ProcedureKind = Literal["session", "solve"]


class ValueType(StrEnum):
    """The type of the values of a parameter or result."""

    REAL = "real"
    INTEGER = "integer"
    BINARY = "binary"
    STRING = "string"


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it is a valid identifier name; raise DeclarationError otherwise.

    Names start with a letter, hold letters, digits and ``_``, are at most 63 characters
    long and are not one of the reserved column names ``value`` and ``element``.
    """
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DeclarationError(
            f"{what} name {name!r} is invalid: use a letter, then letters, digits or '_' "
            "(at most 63 characters)"
        )
    if name.lower() in RESERVED_NAMES:
        raise DeclarationError(f"{what} name {name!r} is reserved")
    return name


@dataclass(frozen=True)
class SetDecl:
    """A set: an ordered collection of distinct, non-empty string elements."""

    name: str
    title: str = ""

    @property
    def kind(self) -> str:
        return "set"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {"name": self.name, "kind": "set", "title": self.title}


@dataclass(frozen=True)
class DataDecl:
    """A parameter (input) or result (output) indexed over zero or more sets.

    ``domain`` holds set names; ``()`` makes a scalar. ``default`` fills elements that
    have no value; ``required`` demands a value (or a default) for every element.
    """

    name: str
    kind: DataKind
    domain: tuple[str, ...] = ()
    type: ValueType = ValueType.REAL
    unit: str | None = None
    lower: float | None = None
    upper: float | None = None
    default: Any = None
    required: bool = False
    title: str = ""

    @property
    def is_scalar(self) -> bool:
        return not self.domain

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "name": self.name,
            "kind": self.kind,
            "domain": list(self.domain),
            "type": self.type.value,
            "unit": self.unit,
            "lower": self.lower,
            "upper": self.upper,
            "default": self.default,
            "required": self.required,
            "title": self.title,
        }


@dataclass(frozen=True)
class ProcedureDecl:
    """A procedure: ``kind`` "session" runs in the data session, "solve" as a solve job."""

    name: str
    kind: ProcedureKind
    func: Callable[..., Any] = field(compare=False)
    title: str = ""

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (without the function)."""
        return {"name": self.name, "kind": self.kind, "title": self.title}


def domain_names(domain: str | SetDecl | Sequence[str | SetDecl] | None) -> tuple[str, ...]:
    """Normalise a domain given as a set, a set name, or a sequence of either."""
    if domain is None:
        return ()
    if isinstance(domain, str | SetDecl):
        domain = [domain]
    return tuple(d.name if isinstance(d, SetDecl) else d for d in domain)


def value_type(value: str | ValueType) -> ValueType:
    """Parse a type name; raise DeclarationError naming the allowed ones."""
    try:
        return ValueType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in ValueType)
        raise DeclarationError(f"type {value!r} is not one of {allowed}") from None
