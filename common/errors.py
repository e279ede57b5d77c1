"""Errors that carry a machine ``code`` and a message meant for the user.

Domain code raises these; only the edges (HTTP views, RPC replies) turn them into a status.
The ``status`` is the HTTP status an edge should use; it travels inside RPC replies so the
portal maps backend errors without a table of its own.
"""

from __future__ import annotations


class ModelportError(Exception):
    """Base of every expected failure. ``code`` is stable, ``message`` is for people."""

    code = "internal"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "status": self.status}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelportError:
        status = data.get("status", 500)
        return cls(
            str(data.get("message", "")),
            code=str(data.get("code", "internal")),
            status=status if isinstance(status, int) else 500,
        )


class BadRequest(ModelportError):
    code, status = "bad_request", 400


class Unauthenticated(ModelportError):
    code, status = "unauthenticated", 401


class Forbidden(ModelportError):
    code, status = "forbidden", 403


class NotFound(ModelportError):
    code, status = "not_found", 404


class Conflict(ModelportError):
    code, status = "conflict", 409


class TooLarge(ModelportError):
    code, status = "too_large", 413


class Unavailable(ModelportError):
    code, status = "unavailable", 503


class RpcTimeout(Unavailable):
    code = "rpc_timeout"
