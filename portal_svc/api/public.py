"""Public REST shapes derived from the message contracts, so a field is written once.

``public(RenameCase, ApiModel, drop={"case_id"})`` is a model with the contract's fields (their
types, limits, defaults and descriptions) minus what the portal fills in or keeps internal:
the contract's version ``v``, the ``actor`` (the portal sets it from the token), storage keys
(``s3_key``, ``*_s3_key``: internal) and what the caller names in the path. A nested
contract becomes its public model too. The OpenAPI document describes the derived models as
it would hand-written ones.
"""

from __future__ import annotations

import copy
import functools
import operator
import types
from collections.abc import Iterable
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from common.contracts.base import Contract

ALWAYS_DROPPED = frozenset({"v", "actor", "s3_key"})
_derived: dict[type[BaseModel], type[BaseModel]] = {}


def public(
    contract: type[BaseModel], base: type[BaseModel], *, name: str | None = None,
    drop: Iterable[str] = (), retype: dict[str, Any] | None = None,
) -> Any:
    """A ``base`` subclass named ``name`` (default: the contract's name without ``Out``) with
    ``contract``'s fields except :data:`ALWAYS_DROPPED` and ``drop``; ``retype`` gives a
    field another public type. Typed ``Any``: its fields are known only at run time."""
    types = retype or {}
    dropped = ALWAYS_DROPPED | set(drop)
    fields: dict[str, Any] = {
        field: _retyped(info, types[field]) if field in types
        else (_public_type(info.annotation, base), copy.copy(info))
        for field, info in contract.model_fields.items()
        if field not in dropped and not field.endswith("_s3_key")
    }
    model = create_model(
        name or contract.__name__.removesuffix("Out"), __base__=base,
        __module__=base.__module__, __doc__=contract.__doc__, **fields,
    )
    _derived.setdefault(contract, model)
    return model


def _retyped(info: FieldInfo, annotation: Any) -> tuple[Any, FieldInfo]:
    """The field as ``annotation``, keeping its default and description but none of the
    contract type's validators or serializers."""
    default = ... if info.is_required() else info.default
    return annotation, Field(default, description=info.description)


def _public_type(annotation: Any, base: type[BaseModel]) -> Any:
    """``annotation`` with each nested contract replaced by its public model."""
    if isinstance(annotation, type) and issubclass(annotation, Contract):
        return _derived.get(annotation) or public(annotation, base)
    args = get_args(annotation)
    origin = get_origin(annotation)
    if not args or origin is None:
        return annotation
    swapped = tuple(_public_type(a, base) for a in args)
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, swapped)
    if origin is list:
        return list[swapped[0]]  # type: ignore[valid-type]
    return annotation
