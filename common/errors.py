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

    @staticmethod
    def from_dict(data: dict[str, object]) -> ModelportError:
        """Rebuild an error sent over the wire as the subclass of its status, so callers can
        ``except Forbidden`` on a remote refusal as on a local one."""
        status = data.get("status", 500)
        status = status if isinstance(status, int) else 500
        kind = _BY_STATUS.get(status, ModelportError)
        return kind(str(data.get("message", "")), code=str(data.get("code", kind.code)),
                    status=status)


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


_BY_STATUS: dict[int, type[ModelportError]] = {
    kind.status: kind
    for kind in (BadRequest, Unauthenticated, Forbidden, NotFound, Conflict, TooLarge, Unavailable)
}
