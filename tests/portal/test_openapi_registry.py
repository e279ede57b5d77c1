"""The OpenAPI document describes the file endpoints: uploads take octet-stream or a form's
``file`` field, downloads answer octet-stream, and each lists the errors it may answer."""

from __future__ import annotations

from typing import Any

from portal_svc.app import make_app
from tests.portal.conftest import portal_settings
from tests.portal.fakes import ExplodingBackend

UPLOADS = {"/api/v1/runtimes": {"400", "403", "409", "413", "415"},
           "/api/v1/apps": {"400", "403", "409", "413", "415"},
           "/api/v1/cases": {"400", "404", "413", "415"}}


async def _document(aiohttp_client: Any) -> dict[str, Any]:
    client = await aiohttp_client(make_app(portal_settings("amqp://unused/"), ExplodingBackend()))
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    return dict(await resp.json())


async def test_uploads_and_downloads_are_described(aiohttp_client: Any) -> None:
    paths = (await _document(aiohttp_client))["paths"]
    for path, errors in UPLOADS.items():
        op = paths[path]["post"]
        content = op["requestBody"]["content"]
        assert content["application/octet-stream"]["schema"]["format"] == "binary"
        assert content["multipart/form-data"]["schema"]["required"] == ["file"]
        assert errors | {"201", "401", "503"} <= set(op["responses"])
    download = paths["/api/v1/cases/{case_id}/download"]["get"]
    assert "application/octet-stream" in download["responses"]["200"]["content"]
    assert {p["name"] for p in paths["/api/v1/cases"]["post"]["parameters"]} == {"app", "name"}
    assert "security" not in paths["/api/v1/platform-key"]["get"]
    for path in ("/api/v1/cases/{case_id}", "/api/v1/apps/{name}/versions/{version}",
                 "/api/v1/runtimes/{version}"):
        assert "409" in paths[path]["delete"]["responses"]


async def test_file_views_without_storage_answer_503(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(portal_settings("amqp://unused/"), ExplodingBackend()))
    resp = await client.get("/api/v1/platform-key")
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "storage_unavailable"
