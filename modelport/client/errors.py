"""What the portal client raises: every failure is a :class:`ClientError` with a one-line text."""

from __future__ import annotations


class ClientError(Exception):
    """Base of the client's failures; ``str()`` is a message fit for one line of output."""


class ApiError(ClientError):
    """The portal answered with an error status; ``code`` and ``message`` are the server's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status, self.code, self.message = status, code, message


class PortalUnreachable(ClientError):
    """No answer from the portal: connection refused, DNS, TLS, timeout, dropped connection."""


class ChecksumMismatch(ClientError):
    """A download whose bytes do not match the checksum the server announced."""
