"""Failures of the Docker layer, each with a machine ``code``."""

from __future__ import annotations

from common.errors import BadRequest, ModelportError, Unavailable


class NoCapacity(Unavailable):
    """No healthy host has a free slot and enough memory right now."""

    code = "no_capacity"


class HostDown(Unavailable):
    code = "host_down"


class ImageMismatch(ModelportError):
    """The loaded image is not the one the runtime's manifest names."""

    code, status = "image_mismatch", 500


class BadPackage(ModelportError):
    code, status = "bad_package", 500


class UnsafeSpec(BadRequest):
    """A container request that would break the hardening rules (e.g. a secret in env)."""

    code = "unsafe_spec"


class ExecTimeout(ModelportError):
    code, status = "timeout", 504
