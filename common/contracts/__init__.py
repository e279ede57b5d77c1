"""Message contracts: one module per family. Frozen pydantic models with a version field."""

from common.contracts.base import Contract

__all__ = ["Contract"]
