"""A small client of the portal's REST API (``/api/v1``) for the ``modelport`` CLI and scripts.

:class:`PortalClient` speaks HTTP with a bearer token, streams uploads and downloads in chunks
with a progress callback, and raises :class:`ApiError` carrying the server's
``{"error": {"code", "message"}}``. :mod:`.credentials` keeps the signed-in URL and token.
"""

from modelport.client.credentials import Credentials, config_dir, credentials_path
from modelport.client.errors import ApiError, ChecksumMismatch, ClientError, PortalUnreachable
from modelport.client.portal import PortalClient
from modelport.client.transfer import NoProgress, Progress

__all__ = [
    "ApiError",
    "ChecksumMismatch",
    "ClientError",
    "Credentials",
    "NoProgress",
    "PortalClient",
    "PortalUnreachable",
    "Progress",
    "config_dir",
    "credentials_path",
]
