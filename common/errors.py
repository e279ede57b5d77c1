"""Errors that carry a machine ``code`` and a message meant for the user.

Domain code raises these; only the edges (HTTP views, RPC replies) turn them into a status.
The ``status`` is the HTTP status an edge should use; it travels inside RPC replies so the
portal maps backend errors without a table of its own.
"""

from __future__ import annotations

from typing import Any


class ModelportError(Exception):
    """Base of every expected failure. ``code`` is stable, ``message`` is for people.

    A subclass names its code and status in its header:
    ``class NotFound(ModelportError, code="not_found", status=404)``.
    """

    code = "internal"
    status = 500
    details: dict[str, object] | None = None
    """Machine-readable facts of the refusal (a quota's name and value), sent along when set."""

    def __init_subclass__(cls, *, code: str | None = None, status: int | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if status is not None:
            cls.status = status

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code, "message": self.message,
                                   "status": self.status}
        if isinstance(self, TooManyRequests):
            data["retry_after_s"] = self.retry_after_s
        if self.details is not None:
            data["details"] = self.details
        return data

    @staticmethod
    def from_dict(data: dict[str, object]) -> ModelportError:
        """Rebuild an error sent over the wire as the subclass of its status, so callers can
        ``except Forbidden`` on a remote refusal as on a local one."""
        status = data.get("status", 500)
        status = status if isinstance(status, int) else 500
        if (named := _BY_CODE.get(str(data.get("code")))) is not None:
            return named(str(data.get("message", "")) or named.default_message)
        kind = _BY_STATUS.get(status, ModelportError)
        error: ModelportError
        details = data.get("details")
        if kind is TooManyRequests:
            retry = data.get("retry_after_s")
            retry_s = retry if isinstance(retry, int) else 1
            if data.get("code") == QuotaExceeded.code and isinstance(details, dict):
                return QuotaExceeded(str(data.get("message", "")), details=details,
                                     retry_after_s=retry_s)
            error = TooManyRequests(str(data.get("message", "")),
                                    code=str(data.get("code", kind.code)), retry_after_s=retry_s)
        else:
            error = kind(str(data.get("message", "")), code=str(data.get("code", kind.code)),
                         status=status)
        if isinstance(details, dict):
            error.details = details
        return error


class BadRequest(ModelportError, code="bad_request", status=400):
    """The request is malformed or names something invalid."""


class Unauthenticated(ModelportError, code="unauthenticated", status=401):
    """No valid credentials came with the request."""


class Forbidden(ModelportError, code="forbidden", status=403):
    """The caller is known but may not do this."""


class NotFound(ModelportError, code="not_found", status=404):
    """No such thing, or one the caller may not see."""


class Conflict(ModelportError, code="conflict", status=409):
    """The thing's current state does not allow this."""


class TooLarge(ModelportError, code="too_large", status=413):
    """A size or count over its limit."""


class TooManyRequests(ModelportError, code="too_many_requests", status=429):
    """Refused for now; ``retry_after_s`` (whole seconds, at least 1) is when to try again."""

    def __init__(self, message: str, *, code: str | None = None, retry_after_s: int = 1):
        super().__init__(message, code=code)
        self.retry_after_s = max(1, retry_after_s)


class QuotaExceeded(TooManyRequests, code="quota_exceeded"):
    """Refused because it would pass one of the user's quotas (429 ``quota_exceeded``).

    The message says ``"queued jobs: 20 of 20"``; ``details`` carries ``quota`` (its name),
    ``limit`` and ``used``. ``retry_after_s`` is when the quota frees up by itself when that
    is known (a monthly budget: the next month), else 60.
    """

    def __init__(self, message: str, *, details: dict[str, object], retry_after_s: int = 60):
        super().__init__(message, code=self.code, retry_after_s=retry_after_s)
        self.details = details

    @classmethod
    def of(cls, quota: str, label: str, *, used: int, limit: int, retry_after_s: int = 60,
           hint: str = "") -> QuotaExceeded:
        """The refusal of ``quota`` (called ``label`` for people) at ``used`` of ``limit``."""
        message = f"{label}: {used} of {limit}" + (f"; {hint}" if hint else "")
        return cls(message, details={"quota": quota, "limit": limit, "used": used},
                   retry_after_s=retry_after_s)


class Unavailable(ModelportError, code="unavailable", status=503):
    """A service the request needs does not answer; the same request may succeed later."""


class RpcTimeout(Unavailable, code="rpc_timeout"):
    """An RPC call got no reply in time."""


class InfraUnavailable(Unavailable):
    """A piece of infrastructure is down: the request failed at once instead of waiting, and
    the same request may succeed once it is back. Each kind has its own ``code`` and a default
    message naming what is down; the code travels in RPC replies, so a backend's
    ``database_unavailable`` reaches the portal's caller as the same class and message."""

    default_message = "a service the platform needs is unavailable"

    def __init__(self, message: str | None = None, *, detail: str | None = None):
        text = message or self.default_message
        super().__init__(f"{text}: {detail}" if detail else text)


class DatabaseUnavailable(InfraUnavailable, code="database_unavailable"):
    default_message = "database unavailable"


class BrokerUnavailable(InfraUnavailable, code="broker_unavailable"):
    default_message = "message broker unavailable"


class StorageUnavailable(InfraUnavailable, code="storage_unavailable"):
    default_message = "object storage unavailable"


_BY_CODE: dict[str, type[InfraUnavailable]] = {
    kind.code: kind for kind in (DatabaseUnavailable, BrokerUnavailable, StorageUnavailable)
}
_BY_STATUS: dict[int, type[ModelportError]] = {
    kind.status: kind
    for kind in (BadRequest, Unauthenticated, Forbidden, NotFound, Conflict, TooLarge,
                 TooManyRequests, Unavailable)
}
