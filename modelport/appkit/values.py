"""Checks and coercions of single values against a declared type and bounds.

Each check returns the coerced value, or raises ``BadValue`` with the problem in words
(without the location: the caller adds identifier and element).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from modelport.appkit.declarations import DataDecl, ValueType


class BadValue(Exception):
    """A value that does not fit its declaration; the message says why, ``rule`` names the
    rule (``type``, ``lower_bound``, ``upper_bound``; see errors.RULES)."""

    def __init__(self, message: str, rule: str = "type") -> None:
        super().__init__(message)
        self.rule = rule


def show(value: Any) -> str:
    """A short, unambiguous rendering of a value for messages: ``-3``, ``2.5``, ``'x'``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool | str) or not isinstance(value, numbers.Number):
        return repr(value)
    return str(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def _real(value: Any) -> float:
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise BadValue(f"{show(value)} is not a real number")
    number = float(value)
    if not math.isfinite(number):
        raise BadValue(f"{number} is not a finite number")
    return number


def _integer(value: Any) -> int:
    number = _real(value) if not isinstance(value, numbers.Integral) or _is_bool(value) else value
    if isinstance(number, float) and not number.is_integer():
        raise BadValue(f"{show(value)} is not an integer")
    return int(number)


def _binary(value: Any) -> int:
    if _is_bool(value):
        return int(value)
    try:
        number = _integer(value)
    except BadValue:
        raise BadValue(f"{show(value)} is not binary (0 or 1)") from None
    if number not in (0, 1):
        raise BadValue(f"{show(value)} is not binary (0 or 1)")
    return number


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValue(f"{show(value)} is not a string")
    return value


_COERCE: dict[ValueType, Callable[[Any], Any]] = {
    ValueType.REAL: _real,
    ValueType.INTEGER: _integer,
    ValueType.BINARY: _binary,
    ValueType.STRING: _string,
}


def coerce(decl: DataDecl, value: Any) -> Any:
    """Return ``value`` converted to the declared type; raise BadValue if it does not fit.

    Bounds are checked for numeric types: ``-3 is below the lower bound 0``.
    """
    result = _COERCE[decl.type](value)
    if decl.type is ValueType.STRING:
        return result
    if decl.lower is not None and result < decl.lower:
        raise BadValue(f"{show(result)} is below the lower bound {show(decl.lower)}",
                       "lower_bound")
    if decl.upper is not None and result > decl.upper:
        raise BadValue(f"{show(result)} is above the upper bound {show(decl.upper)}",
                       "upper_bound")
    return result
