"""Quotas and usage through the portal's admin REST API (admins), on top of a
:class:`~modelport.client.portal.PortalClient`: ``Quotas(portal).get("user", "ada")``."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from modelport.client.portal import PortalClient

Json = dict[str, Any]
Kind = Literal["user", "group"]


class Quotas:
    def __init__(self, portal: PortalClient) -> None:
        self._portal = portal

    async def overview(self) -> Json:
        """``GET /api/v1/admin/quotas``: the defaults and every override."""
        return await self._portal._json("GET", "/admin/quotas")

    async def get(self, kind: Kind, name: str) -> Json:
        """A user's or group's overrides (and for a user each effective quota and its use)."""
        return await self._portal._json("GET", _path(kind, name))

    async def set(self, kind: Kind, name: str, values: dict[str, int | None]) -> Json:
        """Replace the overrides of ``name``: quotas left out or None inherit."""
        return await self._portal._json("PUT", _path(kind, name), json=values)

    async def usage_csv(self, start: str | None = None, end: str | None = None) -> str:
        """``GET /api/v1/admin/usage?format=csv``: the CSV text, header first."""
        params = {"format": "csv", **({"from": start} if start else {}),
                  **({"to": end} if end else {})}
        async with self._portal._request("GET", "/admin/usage", params=params) as response:
            return await response.text()

    async def usage(self, start: str | None = None, end: str | None = None) -> Json:
        params = {**({"from": start} if start else {}), **({"to": end} if end else {})}
        return await self._portal._json("GET", "/admin/usage", params=params)


def _path(kind: Kind, name: str) -> str:
    return f"/admin/quotas/{kind}s/{quote(name, safe='')}"
