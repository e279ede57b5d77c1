"""The OpenAPI document describes every API route the app serves."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from portal_svc.app import make_app
from tests.portal.conftest import portal_settings
from tests.portal.fakes import ExplodingBackend


def _app() -> web.Application:
    return make_app(portal_settings("amqp://unused/"), ExplodingBackend())


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


async def _document(aiohttp_client: Any, app: web.Application) -> dict[str, Any]:
    client = await aiohttp_client(app)
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    return dict(await resp.json())


async def test_every_api_route_is_documented(aiohttp_client: Any) -> None:
    app = _app()
    doc = await _document(aiohttp_client, app)
    assert doc["openapi"].startswith("3.1")
    served = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/")
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served and served == documented


async def test_schemas_come_from_the_models_and_refs_resolve(aiohttp_client: Any) -> None:
    doc = await _document(aiohttp_client, _app())
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    body = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[body.rsplit("/", 1)[1]]["required"]) == {"username", "password"}
    assert "security" not in login and {"200", "400", "401"} <= set(login["responses"])
    create = doc["paths"]["/api/v1/users"]["post"]
    assert {"201", "401", "403", "409"} <= set(create["responses"])
    assert create["security"] == [{"bearerAuth": []}]
    listing = doc["paths"]["/api/v1/users"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"limit", "offset"}
    error = schemas["ErrorResponse"]
    assert error["required"] == ["error"]
