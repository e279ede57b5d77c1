"""The portal's REST API as async methods: sign in, runtimes, apps, cases.

Every method returns the decoded JSON the portal answered, or raises :class:`ApiError`
(an error status, with the server's code and message), :class:`PortalUnreachable` (no answer,
or the connection dropped) or :class:`ChecksumMismatch` (a download that does not match).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp

from common.packages import PlatformPublicKey
from modelport.client.errors import ApiError, ClientError, PortalUnreachable
from modelport.client.transfer import FilePayload, NoProgress, Progress, save_body

API = "/api/v1"
SHA256_HEADERS = ("X-Checksum-SHA256", "X-Content-SHA256")
CASE_PAGE = 1000
Json = dict[str, Any]


class PortalClient:
    """A session with one portal at ``url``, authenticated by ``token`` when given.

    Use as ``async with PortalClient(url, token) as portal: …``.
    """

    def __init__(self, url: str, token: str = "", *, connect_timeout_s: float = 30.0,
                 read_timeout_s: float = 600.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PortalClient:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        self._session = aiohttp.ClientSession(headers=headers, timeout=self._timeout)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- sign in ---------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> Json:
        """``{"token", "user"}`` for a correct password; ApiError 401 otherwise."""
        return await self._json("POST", "/auth/login",
                                json={"username": username, "password": password})

    async def logout(self) -> None:
        """Revoke this client's token."""
        await self._json("POST", "/auth/logout")

    async def me(self) -> Json:
        """The signed-in user."""
        return await self._json("GET", "/me")

    async def platform_key(self) -> PlatformPublicKey:
        """The platform's public key that app packages are encrypted for."""
        body = await self._json("GET", "/platform-key")
        try:
            return PlatformPublicKey.from_base64(str(body["public_key"]))
        except (KeyError, TypeError) as exc:
            raise ClientError(f"{self.url}: unexpected platform-key answer ({exc})") from None

    # -- runtimes and apps -----------------------------------------------------------------

    async def upload_runtime(self, path: Path, progress: Progress | None = None) -> Json:
        """Upload a signed runtime package; the registered runtime."""
        return await self._upload("/runtimes", path, progress)

    async def list_runtimes(self) -> list[Json]:
        return _items(await self._json("GET", "/runtimes"), "runtimes")

    async def upload_app(self, path: Path, *, activate: bool = True,
                         progress: Progress | None = None) -> Json:
        """Upload an app package; the published version (made active unless told not to)."""
        params = {"activate": "true" if activate else "false"}
        return await self._upload("/apps", path, progress, params)

    async def list_apps(self) -> list[Json]:
        return _items(await self._json("GET", "/apps"), "apps")

    async def activate_app(self, name: str, version: str) -> Json:
        """Make ``version`` the active version of app ``name``; the app."""
        return await self._json("POST", f"/apps/{_seg(name)}/versions/{_seg(version)}/activate")

    async def app_rights(self, name: str) -> Json:
        """Which groups may use and publish app ``name``."""
        return await self._json("GET", f"/apps/{_seg(name)}/rights")

    async def set_app_rights(self, name: str, *, use: list[str], publish: list[str]) -> Json:
        """Replace the groups that may use and publish app ``name``; its rights after."""
        return await self._json("PUT", f"/apps/{_seg(name)}/rights",
                                json={"use": use, "publish": publish})

    # -- users -----------------------------------------------------------------------------

    async def set_role(self, username: str, role: str) -> Json:
        """Give ``username`` the ``role`` (admins); the user after."""
        return await self._json("PUT", f"/users/{_seg(username)}/role", json={"role": role})

    # -- cases -----------------------------------------------------------------------------

    async def upload_case(self, path: Path, *, app: str, name: str,
                          progress: Progress | None = None) -> Json:
        """Upload a case file of ``app`` under ``name``; the stored case."""
        return await self._upload("/cases", path, progress, {"app": app, "name": name})

    async def list_cases(self, app: str | None = None) -> list[Json]:
        """Every case the caller can see (of ``app`` only, when given), page after page."""
        cases: list[Json] = []
        while True:
            params = {"limit": str(CASE_PAGE), "offset": str(len(cases))} | (
                {"app": app} if app else {})
            page = await self._json("GET", "/cases", params=params)
            found = _items(page, "cases")
            cases += found
            if not found or len(cases) >= int(page.get("total", 0)):
                return cases

    async def download_case(self, case_id: str, dest: Path,
                            progress: Progress | None = None) -> str:
        """Save a case's bytes to ``dest``, checked against the server's sha256 header.

        Returns the sha256. Raises :class:`ChecksumMismatch` (``dest`` untouched) when the
        bytes differ, :class:`ClientError` when the server sends no checksum at all.
        """
        return await self.download(f"/cases/{_seg(case_id)}/download", dest, progress)

    async def download(self, path: str, dest: Path, progress: Progress | None = None) -> str:
        """Save the body of ``GET path`` to ``dest``, checked against the server's sha256
        header; returns the sha256 (raises as :meth:`download_case`)."""
        async with self._request("GET", path) as response:
            expected = next((response.headers[h] for h in SHA256_HEADERS
                             if h in response.headers), None)
            if expected is None:
                raise ClientError(f"{self.url}: the download carries no sha256 header")
            return await save_body(response, dest, progress or NoProgress(),
                                   expected_sha256=expected)

    # -- administration --------------------------------------------------------------------

    async def list_hosts(self) -> list[Json]:
        """The Docker hosts workers report, with their load and drained state (admins)."""
        return _items(await self._json("GET", "/admin/hosts"), "hosts")

    async def drain_host(self, name: str) -> Json:
        """Drain host ``name``: no new work there, running work finishes (admins)."""
        return await self._json("POST", f"/admin/hosts/{_seg(name)}/drain")

    async def return_host(self, name: str) -> Json:
        """Put a drained host back in service (admins)."""
        return await self._json("POST", f"/admin/hosts/{_seg(name)}/return")

    # -- plumbing --------------------------------------------------------------------------

    async def _upload(self, path_: str, file: Path, progress: Progress | None,
                      params: Mapping[str, str] | None = None) -> Json:
        body = FilePayload(file, progress or NoProgress())
        return await self._json("POST", path_, data=body, params=params)

    async def _json(self, method: str, path_: str, **kwargs: Any) -> Json:
        async with self._request(method, path_, **kwargs) as response:
            if response.status == 204:
                return {}
            try:
                body = await response.json(content_type=None)
            except (json.JSONDecodeError, UnicodeDecodeError, aiohttp.ContentTypeError):
                raise ClientError(f"{self.url}: answered {response.status} with no JSON") from None
            return body if isinstance(body, dict) else {"items": body}

    @asynccontextmanager
    async def _request(self, method: str, path_: str,
                       **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        if self._session is None:
            raise RuntimeError("use PortalClient in 'async with'")
        try:
            async with self._session.request(method, self.url + API + path_, **kwargs) as resp:
                if resp.status >= 400:
                    raise await _api_error(resp)
                yield resp
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise PortalUnreachable(_unreachable(self.url, exc)) from None
        except TimeoutError:
            raise PortalUnreachable(f"{self.url}: no answer in time") from None


async def _api_error(response: aiohttp.ClientResponse) -> ApiError:
    """The server's ``{"error": {"code", "message"}}``, or the status when the body is not it."""
    text = await response.text(errors="replace")
    try:
        error = json.loads(text)["error"]
        return ApiError(response.status, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        reason = response.reason or "error"
        detail = text.strip().splitlines()[0][:200] if text.strip() else reason
        return ApiError(response.status, reason.lower().replace(" ", "_"), detail)


def _unreachable(url: str, exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return f"{url}: the connection was closed before the answer was complete"
    return f"cannot reach the portal at {url}: {exc}"


def _items(body: Json, key: str) -> list[Json]:
    items = body.get(key, body.get("items", []))
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _seg(value: str) -> str:
    return quote(value, safe="")
