"""Personal API tokens through the portal's REST API (``/api/v1/tokens``): make one (its
secret is in that answer only), list the live ones, revoke one. Needs a ``full`` token, such
as the one ``modelport login`` keeps. Errors are the portal client's."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from modelport.client.portal import PortalClient

Json = dict[str, Any]


class Tokens:
    def __init__(self, portal: PortalClient) -> None:
        self._portal = portal

    async def create(self, name: str, scope: str, expires_in_days: int | None = None) -> Json:
        """A new token: its fields and, this once, its ``token``."""
        body: Json = {"name": name, "scope": scope}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return await self._portal._json("POST", "/tokens", json=body)

    async def list(self, username: str | None = None) -> list[Json]:
        """Your live personal tokens (an admin may name another user's)."""
        params = {"username": username} if username else None
        found = (await self._portal._json("GET", "/tokens", params=params)).get("tokens", [])
        return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []

    async def revoke(self, token_id: str) -> None:
        await self._portal._json("DELETE", f"/tokens/{quote(token_id, safe='')}")
